// Placeholder for the `angpix map` commands; replaced by the module that implements them.

import ArgumentParser

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Inspect MRC maps and stacks, fix their pixel size, rescale them.",
        subcommands: []
    )
}
