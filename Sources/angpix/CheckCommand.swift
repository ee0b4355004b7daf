// Placeholder for the `angpix check` commands; replaced by the module that implements them.

import ArgumentParser

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Find the pixel-size traps in a RELION project.",
        subcommands: []
    )
}
