// Placeholder for the `angpix particles` commands; replaced by the module that implements them.

import ArgumentParser

struct ParticlesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "particles",
        abstract: "Bring a whole particle set to another pixel size and box.",
        subcommands: []
    )
}
