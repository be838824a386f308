import ArgumentParser
import Foundation

/// `scalper`: the CryptoScalper command line.
@main
struct Scalper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scalper",
        abstract: "CryptoScalper: a research workbench for machine-learning crypto scalping.",
        discussion: """
            Data flows one way: market data (import, download) into a SQLite store, then features, the model and backtests; a local exchange and the scanner sit beside them. Run commands from the project folder, where config/default.yaml lives.
            """,
        version: "0.1.0",
        subcommands: [
            DataCommand.self, DownloadCommand.self, FeaturesCommand.self, TrainCommand.self, EvaluateCommand.self,
            BacktestCommand.self, SweepCommand.self, RunsCommand.self, ExportNotebookCommand.self, ExchangeCommand.self, ScanCommand.self,
            InfoCommand.self, BenchCommand.self,
        ]
    )

    /// Runs the command; errors other than argument problems print as `error: …` with exit code 1.
    static func main() async {
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

    @Option(help: "A YAML file laid over config/default.yaml (or $SCALPER_CONFIG).")
    var config: String?

    func loadConfiguration() throws -> ScalperConfiguration {
        try ConfigurationLoader.load(overlay: config)
    }

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
