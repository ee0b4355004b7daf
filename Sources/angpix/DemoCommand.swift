// Placeholder for the `angpix demo` commands; replaced by the module that implements them.

import ArgumentParser

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through the pixel-size problems of the RELION documentation on built-in data.",
        subcommands: []
    )
}
