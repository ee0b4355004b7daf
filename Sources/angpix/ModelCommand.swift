// Placeholder for the `angpix model` commands; replaced by the module that implements them.

import ArgumentParser

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect atomic models (PDB, mmCIF).",
        subcommands: []
    )
}
