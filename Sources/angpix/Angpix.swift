// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The angpix command: parses arguments and calls the library. No science lives here.

import ArgumentParser

@main
struct Angpix: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "angpix",
        abstract: "Pixel-size tools for cryo-EM single-particle work (RELION projects).",
        discussion: """
        Example:
          angpix demo             (the pixel-size problems, on built-in data)
          angpix star join a.star b.star -o joined.star
        """,
        version: "0.1.0",
        subcommands: [
            DemoCommand.self,
            StarCommand.self,
            MapCommand.self,
            CtfCommand.self,
            OpticsCommand.self,
            CalibrateCommand.self,
            PostprocessCommand.self,
            ModelCommand.self,
            ParticlesCommand.self,
            CheckCommand.self,
            ReportCommand.self,
            CsCommand.self,
            SimulateCommand.self,
            RefineCommand.self,
        ]
    )
}
