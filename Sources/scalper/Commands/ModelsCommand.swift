import ArgumentParser
import Backtest
import Features
import Foundation
import Model
import Registry
import ScalperCore

/// `scalper models`: the model registry (`<model.models_dir>/registry.sqlite`).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "The model registry: list, show, promote, roll back, purge.",
        discussion: """
            Every bundle `scalper train` writes is registered in <model.models_dir>/registry.sqlite (or --models-dir) as a candidate, with its windows, data hash, test metrics and origin. One bundle at a time is the champion (`--model champion` in `scalper paper`); every change of champion is recorded with its reason.
            """,
        subcommands: [ModelsListCommand.self, ModelsShowCommand.self, ModelsPromoteCommand.self, ModelsRollbackCommand.self, ModelsPurgeCommand.self],
        defaultSubcommand: ModelsListCommand.self
    )
}

/// The registry of a command's models folder.
struct RegistryOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(help: "Models folder holding registry.sqlite (default: model.models_dir of the config).")
    var modelsDir: String?

    func open() throws -> ModelRegistry {
        let settings = try global.loadConfiguration()
        let folder = modelsDir.map { global.workspace.resolve($0) } ?? settings.model.modelsDir
        do {
            return try ModelRegistry(path: folder + "/registry.sqlite")
        } catch {
            throw fail("\(error)")
        }
    }
}

struct ModelsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every registered bundle, newest first.")

    @OptionGroup var registry: RegistryOptions

    @Flag(help: "One JSON array.")
    var json = false

    func run() throws {
        let models = try registry.open().models()
        if json {
            print(jsonText(models))
            return
        }
        guard !models.isEmpty else {
            print("no models registered yet (scalper train registers each bundle it writes)")
            return
        }
        print("status     origin        AUC     ECE      log-loss  window                  symbols         name")
        for m in models {
            let window = "\(m.windowFrom.prefix(10)) … \(m.windowTo.prefix(10))"
            print(
                "\(m.status.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(m.origin.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) "
                    + String(format: "%.4f  %.4f  %.5f   ", m.auc, m.ece, m.logLoss) + "\(window)  \(m.symbols.padding(toLength: 15, withPad: " ", startingAt: 0)) \(m.name)"
            )
        }
    }
}

struct ModelsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One bundle: its record and the decisions about it.")

    @OptionGroup var registry: RegistryOptions

    @Argument(help: "The bundle's name, or `champion`.")
    var name: String

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        let r = try registry.open()
        guard let m = try (name == "champion" ? r.champion() : r.model(named: name)) else {
            throw fail(name == "champion" ? "\(r.path): there is no champion yet (scalper models promote NAME)" : "\(r.path): no model named \(name) is registered")
        }
        let decisions = try r.decisions(about: m.name)
        if json {
            print(jsonText(ModelDetail(model: m, decisions: decisions)))
            return
        }
        print(
            """
            \(m.name)
              status       \(m.status.rawValue) (origin \(m.origin.rawValue)\(m.parent.map { ", parent \($0)" } ?? ""))
              bundle       \(m.path)
              trained on   \(m.symbols), \(m.windowFrom) … \(m.windowTo), data hash \(m.dataHash.prefix(16))
              test split   AUC \(String(format: "%.4f", m.auc)), ECE \(String(format: "%.4f", m.ece)), log-loss \(String(format: "%.5f", m.logLoss)), Brier \(String(format: "%.5f", m.brier))
              registered   \(UTC.isoString(m.registeredAt))
            """
        )
        // What it learnt and the threshold it trades at come from the bundle itself.
        if let metadata = try? ModelBundle.metadata(at: m.path) {
            print("  label        \(metadata.labelSpec.summary)")
            if let threshold = metadata.signalThreshold {
                print("  threshold    \(Sweep.format(threshold)), what signals.min_probability: model trades at\(metadata.signalThresholdRule.map { " (\($0))" } ?? "")")
            }
        } else {
            print("  label        unknown: \(m.path)/metadata.json cannot be read")
        }
        for beat in try r.heartbeats(model: m.name) {
            print("  used by session \(beat.session), last beat \(UTC.isoString(beat.time))")
        }
        for d in decisions {
            print("  \(UTC.isoString(d.time))  \(d.kind) \(d.model)\(d.previousChampion.map { " (champion before: \($0))" } ?? ""): \(d.reason)")
        }
    }
}

/// A bundle with the decisions about it (`models show --json`).
private struct ModelDetail: Encodable {
    var model: RegisteredModel
    var decisions: [RegistryDecision]
}

struct ModelsPromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "promote", abstract: "Make a bundle the champion by hand (the decision is recorded as manual).")

    @OptionGroup var registry: RegistryOptions

    @Argument(help: "The bundle's name.")
    var name: String

    @Option(help: "Why, recorded with the decision.")
    var reason = "manual promotion"

    func run() throws {
        let r = try registry.open()
        do {
            let before = try r.champion()?.name
            try r.promote(name, reason: reason)
            print("champion: \(name)\(before.map { " (was \($0), now retired)" } ?? "")")
        } catch let error as RegistryError {
            throw fail("\(error)")
        }
    }
}

struct ModelsRollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Give the championship back to the champion the current one replaced.")

    @OptionGroup var registry: RegistryOptions

    @Option(help: "Why, recorded with the decision.")
    var reason = "manual rollback"

    func run() throws {
        let r = try registry.open()
        do {
            let before = try r.champion()?.name
            let now = try r.rollback(reason: reason)
            print("champion: \(now) (was \(before ?? "none"), now retired)")
        } catch let error as RegistryError {
            throw fail("\(error)")
        }
    }
}

struct ModelsPurgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete all but the N newest bundles (never the champion, never one a session uses)."
    )

    @OptionGroup var registry: RegistryOptions

    @Option(help: "Bundles kept, newest first.")
    var keep: Int

    func validate() throws {
        guard keep >= 0 else { throw ValidationError("--keep must be ≥ 0") }
    }

    func run() throws {
        let removed = try registry.open().purge(keep: keep)
        print(removed.isEmpty ? "nothing to purge" : "purged \(removed.count): \(removed.joined(separator: ", "))")
    }
}

/// Pretty-printed JSON with sorted, snake_case keys.
private func jsonText(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
}
