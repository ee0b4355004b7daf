// Placeholder for the `angpix postprocess` commands; replaced by the module that implements them.

import ArgumentParser

struct PostprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postprocess",
        abstract: "FSC, mask correction and sharpening at a corrected pixel size.",
        subcommands: []
    )
}
