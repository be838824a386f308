import ArgumentParser
import Foundation
import Logging
import ScalperCore

/// `scalper`: the CryptoScalper command line.
@main
struct Scalper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scalper",
        abstract: "CryptoScalper: a research workbench for machine-learning crypto scalping.",
        discussion: """
            Data flows one way: market data (import, download) into a SQLite store, then features, the model and backtests; a local exchange and the scanner sit beside them.

            Every setting has a built-in default (`scalper config show --defaults`; config/default.yaml documents them). A YAML file given with --config (or $SCALPER_CONFIG) changes the keys it names. Relative paths in the settings (store, cache, models, runs) resolve against the workspace folder: --home, else $SCALPER_HOME, else the current folder.
            """,
        version: "0.1.0",
        subcommands: [
            DataCommand.self, DownloadCommand.self, FeaturesCommand.self, TrainCommand.self, ModelsCommand.self, EvaluateCommand.self,
            BacktestCommand.self, SweepCommand.self, WalkForwardCommand.self, ClusterCommand.self, RunsCommand.self, QueueCommand.self, WorkerCommand.self, ExportNotebookCommand.self, ExchangeCommand.self, ScanCommand.self,
            PaperCommand.self, LiveCommand.self, RetrainCommand.self, AlertCommand.self, DashboardCommand.self,
            ConfigCommand.self, InfoCommand.self, BenchCommand.self,
        ]
    )

    /// Runs the command; errors other than argument problems print as `error: …` with exit code 1.
    static func main() async {
        LoggingSystem.bootstrap { LineLogHandler(label: $0) }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as ValidationError {
            exit(withError: error)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch {
            // Help and usage errors come from ArgumentParser's own command types: let it print them.
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { exit(withError: error) }
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(withError: ExitCode.failure)
        }
    }
}

/// Options every command that touches the store or the configuration takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Market-data store (SQLite). Default: $SCALPER_STORE, else store.path of the config.")
    var store: String?

    @Option(help: "A YAML file laid over the built-in defaults key by key (or $SCALPER_CONFIG).")
    var config: String?

    @Option(help: "Workspace folder that relative paths of the config resolve against (or $SCALPER_HOME; default: the current folder).")
    var home: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default: logging.level of the config).")
    var logLevel: String?

    func validate() throws {
        if let logLevel, LineLogHandler.level(named: logLevel) == nil {
            throw ValidationError("--log-level '\(logLevel)': must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// The workspace folder.
    var workspace: Workspace { Workspace(home: home) }

    /// The settings (defaults, then the overlay), with paths resolved in the workspace; sets the log level.
    func loadConfiguration() throws -> ScalperConfiguration {
        let configuration = try ConfigurationLoader.load(overlay: config, workspace: workspace)
        let level = logLevel.flatMap(LineLogHandler.level(named:)) ?? configuration.logLevel
        LineLogHandler.processLevel = level
        return configuration
    }

    /// `--store`, else `$SCALPER_STORE` (both as given, relative to the current folder), else
    /// `store.path` of the config (relative to the workspace).
    func storePath(_ configuration: ScalperConfiguration) -> String {
        store ?? ProcessInfo.processInfo.environment["SCALPER_STORE"] ?? configuration.store.path
    }
}

/// Prints an error the way every command does and turns it into a failing exit.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode.failure
}

/// Writes a line to standard error (progress and warnings; standard output is for results).
func note(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
