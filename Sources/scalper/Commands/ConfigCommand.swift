import ArgumentParser
import Foundation

/// `scalper config`: the settings in force, and a check of a settings file.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the settings in force or check a settings file.",
        subcommands: [Show.self, Check.self]
    )

    /// `scalper config show`.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the settings in force (defaults, then --config), paths resolved in the workspace."
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print the built-in defaults as written, paths unresolved.")
        var defaults = false

        func run() throws {
            let settings = defaults ? ScalperConfiguration() : try global.loadConfiguration()
            print(try ConfigurationLoader.yaml(settings), terminator: "")
        }
    }

    /// `scalper config check FILE…`.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check settings files: unknown keys, wrong types and out-of-range values are named with file and key.",
            discussion: "Files are laid over the defaults in the order given. --complete also requires every key to be present (how config/default.yaml is kept in step with the built-in defaults); --equals-defaults requires the result to equal the built-in defaults."
        )

        @Argument(help: "YAML files.")
        var files: [String]

        @Flag(help: "Every key must be present in each file.")
        var complete = false

        @Flag(help: "The files must leave every setting at its built-in default.")
        var equalsDefaults = false

        func run() throws {
            let settings = try ConfigurationLoader.decode(overlays: files, requireEveryKey: complete)
            if equalsDefaults && settings != ScalperConfiguration() {
                let defaults = try ConfigurationLoader.yaml(ScalperConfiguration()).split(separator: "\n")
                let found = try ConfigurationLoader.yaml(settings).split(separator: "\n")
                var section = ""
                for (d, f) in zip(defaults, found) {
                    if !d.hasPrefix(" ") { section = String(d.dropLast()) }
                    if d != f {
                        throw fail("\(files.joined(separator: ", ")): \(section).\(f.trimmingCharacters(in: .whitespaces)) differs from the built-in default \(d.trimmingCharacters(in: .whitespaces))")
                    }
                }
            }
            print("ok: \(files.joined(separator: ", "))")
        }
    }
}
