// Placeholder for the `angpix star` commands; replaced by the module that implements them.

import ArgumentParser

struct StarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "star",
        abstract: "Read, join, subset and upgrade RELION STAR files.",
        subcommands: []
    )
}
