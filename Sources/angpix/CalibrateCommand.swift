// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix calibrate`: the absolute pixel size, from Z40 and a trusted Cs, or against a model or a map.

import ArgumentParser

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Find the true pixel size: from Z40 and a trusted Cs, or against an atomic model or a map.",
        subcommands: [CalibrateZernikeCommand.self, CalibrateModelCommand.self, CalibrateMapCommand.self,
                      CalibrateRingsCommand.self]
    )
}
