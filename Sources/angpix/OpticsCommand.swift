// Placeholder for the `angpix optics` commands; replaced by the module that implements them.

import ArgumentParser

struct OpticsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optics",
        abstract: "Effective pixel sizes of optics groups through relion_refine's scaling.",
        subcommands: []
    )
}
