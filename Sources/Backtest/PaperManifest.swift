public import Foundation
import Trading

/// What a paper session needs from a chosen backtest, in one file: the model, the symbols, the
/// capital and every trading setting (signals, risk, execution) — `scalper runs export-manifest`
/// writes it, `scalper paper --manifest` trades it. Its source run and that run's figures travel
/// with it so the session can be compared with what was promised.
public struct PaperManifest: Codable, Equatable, Sendable {
    /// Format version.
    public var formatVersion = 1
    /// The run it was exported from.
    public var sourceRun: String
    /// The run's window (ISO 8601, end exclusive).
    public var window: [String]
    /// Model bundle path, as the run used it.
    public var model: String
    /// The bundle's name.
    public var modelName: String
    /// Symbols to trade.
    public var symbols: [String]
    /// Capital and the trading settings.
    public var settings: BacktestSettings
    /// The source run's figures (metric name → value; null where undefined).
    public var figures: [String: Double?]
    /// When it was exported (ISO 8601).
    public var exportedAt: String

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case sourceRun = "source_run"
        case window
        case model
        case modelName = "model_name"
        case symbols
        case settings
        case figures
        case exportedAt = "exported_at"
    }

    /// The manifest of run `config` with its `figures`.
    public init(config: BacktestRunConfig, figures: [String: Double?], exportedAt: String) {
        sourceRun = config.id
        window = [config.from, config.to]
        model = config.model
        modelName = config.modelName
        symbols = config.symbols
        settings = config.settings
        self.figures = figures
        self.exportedAt = exportedAt
    }

    /// The manifest of the run folder `folder` (its `config.json`).
    public static func exported(fromRun folder: URL, figures: [String: Double?], exportedAt: String) throws -> PaperManifest {
        let file = folder.appendingPathComponent("config.json")
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw ManifestError("\(file.path): cannot be read (\(error.localizedDescription))")
        }
        do {
            return PaperManifest(config: try JSONDecoder().decode(BacktestRunConfig.self, from: data), figures: figures, exportedAt: exportedAt)
        } catch {
            throw ManifestError("\(file.path): not a run's config.json (\(error))")
        }
    }

    /// The manifest as pretty JSON with sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads and checks a manifest; every problem names the file and the key.
    public static func read(_ path: String) throws -> PaperManifest {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ManifestError("\(path): cannot be read (\(error.localizedDescription))")
        }
        let manifest: PaperManifest
        do {
            manifest = try JSONDecoder().decode(PaperManifest.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            let name = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw ManifestError("\(path): key '\(name)' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ManifestError("\(path): '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw ManifestError("\(path): not a manifest (\(error))")
        }
        guard manifest.formatVersion == 1 else {
            throw ManifestError("\(path): format_version \(manifest.formatVersion) is not one this build reads (1)")
        }
        guard !manifest.symbols.isEmpty else { throw ManifestError("\(path): 'symbols' is empty") }
        guard manifest.settings.capital > 0 else { throw ManifestError("\(path): 'settings.capital' must be > 0") }
        let problems = manifest.settings.signals.problems.map { "signals.\($0)" } + manifest.settings.risk.problems.map { "risk.\($0)" }
            + manifest.settings.execution.problems.map { "execution.\($0)" }
        if let first = problems.first { throw ManifestError("\(path): settings.\(first)") }
        return manifest
    }
}

/// A manifest that cannot be written or read, with the file and key at fault.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String
    init(_ description: String) { self.description = description }
}
