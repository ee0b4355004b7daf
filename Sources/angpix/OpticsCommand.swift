// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix optics`: effective pixel sizes of optics groups through relion_refine's rescaling to the
// reference's pixel size and CtfRefine's magnification matrices (reference text, "Examples").

import ArgumentParser
import Foundation
import AngpixCore
import AngpixReport
import AngpixSTAR
import AngpixOptics

struct OpticsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optics",
        abstract: "Effective pixel sizes of optics groups through relion_refine's scaling.",
        subcommands: [OpticsTraceCommand.self, OpticsSetMagnificationCommand.self]
    )
}

struct OpticsTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Follow relion_refine's rescaling and rlnMagMat to the true pixel size of every group and the map.",
        discussion: """
        relion_refine rescales every optics group from its nominal pixel size to the reference's \
        header pixel size H; CtfRefine's rlnMagMat00…11 then records how each group's particles \
        still differ from the reconstruction. Given one trusted absolute value (one group's true \
        pixel size, or the map's, e.g. calibrated against a model), the trace gives the true pixel \
        size of every group and of the map. It warns when H matches no group's nominal pixel size \
        (a reference from a PostProcess with a corrected pixel size: the 0.98 → 0.96 trap).

        --relion chooses the release followed. RELION 3.1 and 4 rescale the particles to the \
        reference (with --trust_ref_size). RELION 5 resizes a reference whose pixel size differs \
        from the first optics group's by more than 0.001 Å: new box ROUND(box × H / p_1) made \
        even, so H becomes box × H / new box (not always p_1); the trace then works at that pixel \
        size. Default: 5 when the file starts with RELION 5's `# version 50001`, else 3.1 (the \
        first line of the output names it).

        Example:
          angpix optics trace Refine3D/job020/run_data.star --reference-angpix 1.00 --trusted-group 1=1.00
          angpix optics trace particles.star --reference-angpix 1.00 --trusted-map 0.99 --json
          angpix optics trace run_data.star --reference-angpix 1.25 --reference-box 300 --relion 5
        """
    )

    @Argument(help: "A RELION 3.1 STAR file with a data_optics table (after CtfRefine).") var star: String
    @Option(name: .customLong("reference-angpix"), help: "The header pixel size of the reference given to relion_refine, Å.") var referenceAngpix: Double
    @Option(name: .customLong("trusted-group"), help: "G=PX: optics group G is truly at PX Å/px.") var trustedGroup: String?
    @Option(name: .customLong("trusted-map"), help: "The reconstruction is truly at PX Å/px.") var trustedMap: Double?
    @Option(help: "The RELION release whose relion_refine to follow: 3.1, 4 or 5 (default: 5 for a file written by RELION 5, else 3.1).") var relion: String?
    @Option(name: .customLong("reference-box"), help: "The reference's box (pixels), for RELION 5's resizing (default: the first optics group's rlnImageSize).") var referenceBox: Int?
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        if let relion, RelionVersion(argument: relion) == nil {
            throw ValidationError("--relion \(relion): expected 3.1, 4 or 5")
        }
        if let referenceBox, referenceBox < 2 {
            throw ValidationError("--reference-box \(referenceBox): must be at least 2 pixels")
        }
        if trustedGroup != nil && trustedMap != nil {
            throw ValidationError("give either --trusted-group or --trusted-map, not both")
        }
    }

    func anchor() throws -> TraceAnchor {
        if let t = trustedGroup {
            let parts = t.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let g = Int(parts[0].trimmingCharacters(in: .whitespaces)),
                  let px = Double(parts[1].trimmingCharacters(in: .whitespaces)) else {
                throw OpticsError.invalidParameter("--trusted-group \(t)", .nan, "expected G=PX, e.g. 1=1.00")
            }
            return .group(g, px)
        }
        if let m = trustedMap { return .map(m) }
        return .none
    }

    func run() throws {
        let anchor = try anchor()
        let doc = try STARDocument(path: star)
        guard let block = doc.block("optics") else { throw OpticsError.missingBlock(file: star, block: "optics") }
        let table = try OpticsTable(block: block, file: star)
        let version = relion.flatMap(RelionVersion.init(argument:))
            ?? (STARVersionLine.read(path: star).flatMap(RelionVersion.writers(ofSTARVersion:)).flatMap(\.last) == .v5 ? .v5 : .v3_1)
        let result = try OpticsTrace.trace(groups: table.groups.map(TraceGroupInput.init), referencePixelSize: referenceAngpix,
                                           anchor: anchor, relion: version, referenceBox: referenceBox, file: star)
        for w in result.warnings { warn(w) }
        if json {
            try printJSON(OpticsTraceReport(result))
        } else {
            print(result.text, terminator: "")
        }
    }
}
