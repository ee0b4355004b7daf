// Placeholder for the `angpix ctf` commands; replaced by the module that implements them.

import ArgumentParser

struct CtfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctf",
        abstract: "The CTF at a wrong pixel size, and how defocus and Cs absorb it.",
        subcommands: []
    )
}
