// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix map info FILE [--json]`: the MRC2014 header, voxel size, statistics of the data and the
// validation problems found (AngpixMRC: MRCFileDescription; MRCValidation.swift for the checks).

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC

struct MapInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print an MRC file's header, voxel size, statistics and problems.",
        discussion: """
        Checks the file as mrcfile's validate does: sizes against the file size, the mode, NaN or \
        infinite values, a zero voxel size, the MAP word, the machine stamp, the header statistics. \
        Exits with status 1 when the file has errors (warnings alone give status 0, and "valid": \
        true in --json). gzip- and bzip2-compressed files (.map.gz, .mrc.bz2) are read, told by \
        their first bytes; a file of another kind (TIFF, EER, STAR, PDB, text) is named as such. \
        The kind (image, image stack, volume) comes from one rule (the .mrcs extension, ISPG, \
        MZ), and the text says which part decided.

        Example:
          angpix map info run_class001.mrc
          angpix map info Extract/job007/particles.mrcs --json
        """
    )

    @Argument(help: "The MRC file (.mrc map, .mrcs stack; gzip or bzip2 compressed too).")
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let v = try MRCValidator.validate(path: file)
        let info = MRCFileDescription(v)
        if json {
            try printJSON(info)
        } else {
            print(info.text)
        }
        let errors = v.problems.filter { $0.severity == .error }.count
        if errors > 0 {
            throw CoreError.invalidArgument("\(file): not a valid MRC file (\(errors) error\(errors == 1 ? "" : "s"), listed above)")
        }
    }
}
