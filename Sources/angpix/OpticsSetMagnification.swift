// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix optics set-magnification IN.star --matrix … | --from rings.json [--groups 1,2] -o OUT.star`:
// composes a magnification matrix into optics groups' rlnMagMat00…11. Parses and calls
// AngpixRings.MagnificationWriter, whose header derives the order M_total = M_existing · M_new.

import AngpixCore
import AngpixOptics
import AngpixRings
import AngpixSTAR
import ArgumentParser
import Foundation

struct OpticsSetMagnificationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-magnification",
        abstract: "Write a magnification matrix (e.g. from `calibrate rings`) into optics groups' rlnMagMat.",
        discussion: """
        The matrix acts on the observed frequencies first; a matrix already in the file acts after \
        it: M_total = M_existing · M_new (identity where there is none). Other groups keep theirs.

        Example:
          angpix optics set-magnification particles.star --from rings.json --groups 1 -o particles_mag.star
        """
    )

    @Argument(help: "A RELION 3.1+ STAR file with data_optics.") var star: String
    @Option(help: "The matrix as m00,m01,m10,m11 (rlnMagMat00, 01, 10, 11).") var matrix: String?
    @Option(help: "A JSON result of `angpix calibrate rings`.") var from: String?
    @Option(help: "Optics groups to change, e.g. 1,2 (default: all).") var groups: String?
    @Option(name: .shortAndLong, help: "The STAR file to write.") var output: String
    @Flag(help: "Overwrite the output if it exists.") var force = false

    func validate() throws {
        if (matrix == nil) == (from == nil) { throw ValidationError("give either --matrix or --from") }
    }

    func run() throws {
        var inputs = [star]
        let m: Matrix2x2
        var ringsPixel: Double? = nil
        if let matrix {
            let v = matrix.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 4, let a = v[0], let b = v[1], let c = v[2], let d = v[3] else {
                throw ValidationError("--matrix needs four numbers m00,m01,m10,m11")
            }
            m = Matrix2x2(a, b, c, d)
        } else {
            inputs.append(from!)
            (m, ringsPixel) = try MagnificationWriter.matrix(fromResult: from!)
        }
        var selected: [Int]? = nil
        if let groups {
            let g = groups.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !g.isEmpty, g.allSatisfy({ $0 != nil }) else { throw ValidationError("--groups needs group numbers, e.g. 1,2") }
            selected = g.map { $0! }
        }
        let policy = OutputPolicy(overwrite: force, inputs: inputs)
        try policy.check(output)
        let doc = try STARDocument(path: star)
        let changes = try MagnificationWriter.apply(m, to: doc, file: star, groups: selected)
        if let ringsPixel, let block = doc.block("optics"), let table = try? OpticsTable(block: block, file: star) {
            for g in table.groups where selected?.contains(g.number) ?? true {
                if let orig = g.micrographOriginalPixelSize, abs(orig - ringsPixel) > 1e-3 * ringsPixel {
                    warn(String(format: "optics group %d: rlnMicrographOriginalPixelSize %.4f Å differs from the rings' nominal %.4f Å; the matrix is for data at the rings' nominal pixel size", g.number, orig, ringsPixel))
                }
            }
        }
        try doc.write(to: output, policy: policy)
        for c in changes {
            print(String(format: "optics group %d: rlnMagMat %.6f %.6f %.6f %.6f -> %.6f %.6f %.6f %.6f", c.group,
                         c.before.m00, c.before.m01, c.before.m10, c.before.m11, c.after.m00, c.after.m01, c.after.m10, c.after.m11))
        }
        print("wrote \(output)")
    }
}
