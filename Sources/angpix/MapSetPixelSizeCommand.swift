// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix map set-pixel-size IN --angpix X -o OUT`: writes a copy of IN whose header says X Å per
// pixel (CELLA = X · MX..., MX... kept as mrcfile's voxel_size setter keeps them), voxels untouched.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC

struct MapSetPixelSizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-pixel-size",
        abstract: "Change the pixel size in an MRC header (voxels untouched).",
        discussion: """
        Only CELLA changes (CELLA = X · MX MY MZ, as mrcfile's voxel_size setter does; MX MY MZ \
        are set from the map's size only when they are 0): the sampling grid, space group, mode, \
        byte order, extended header and voxels are copied as they are, so a crystallographic map \
        (MX ≠ NX, ISPG ≠ 1) keeps its cell. A gzip or bzip2 input is written uncompressed. Use it when the map is right \
        but its header is wrong — to bring the voxels to another pixel size use `angpix map rescale`.

        Example:
          angpix map set-pixel-size postprocess.mrc --angpix 0.98 -o postprocess_098.mrc
        """
    )

    @Argument(help: "The MRC map or stack to read.")
    var input: String

    @Option(help: "The pixel size to write in the header (Å).")
    var angpix: Double

    @Option(name: [.short, .customLong("output")], help: "The MRC file to write.")
    var output: String

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func run() throws {
        guard angpix > 0, angpix.isFinite else {
            throw CoreError.invalidArgument("\(input): --angpix \(angpix): the pixel size must be positive")
        }
        let old = try MRCFile.readHeader(path: input).pixelSize
        try MRCFile.rewriteHeader(input: input, output: output, policy: OutputPolicy(overwrite: force, inputs: [input])) { h in
            h.setPixelSize(angpix)
        }
        print("\(output): pixel size \(formatSignificant(old)) → \(formatSignificant(angpix)) Å (header only, from \(input))")
    }
}

/// A pixel size printed with up to 6 significant digits.
