// Placeholder for the `angpix report` commands; replaced by the module that implements them.

import ArgumentParser

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a folder of angpix results.",
        subcommands: []
    )
}
