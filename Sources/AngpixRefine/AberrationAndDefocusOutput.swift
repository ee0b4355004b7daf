// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Writing the results of the aberration and defocus fits into the particle file, changing only
// what must change (the STAR engine keeps every other value's text):
//   - data_optics rlnEvenZernike and rlnOddZernike as RELION writes vectors, `[a,b,c]`;
//   - rlnBeamTiltX/Y as given (the split of the odd terms into a tilt is BeamTilt.extract, in
//     OddAberrationEstimator.swift);
//   - per-particle rlnDefocusU/V/Angle.
// The estimators (estim branch) give the numbers; these functions only write them.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

/// A RELION vector value: `[a,b,c]`.
public func relionVectorText(_ values: [Double]) -> String {
    "[" + values.map { formatSignificant($0, digits: 10) }.joined(separator: ",") + "]"
}

/// New optics of one group from an aberration fit (nil fields are left as they are).
public struct GroupAberrations: Sendable, Equatable {
    public var evenZernike: [Double]?
    public var oddZernike: [Double]?
    /// rlnBeamTiltX/Y in mrad.
    public var beamTiltX: Double?, beamTiltY: Double?

    public init(evenZernike: [Double]? = nil, oddZernike: [Double]? = nil, beamTiltX: Double? = nil, beamTiltY: Double? = nil) {
        self.evenZernike = evenZernike; self.oddZernike = oddZernike; self.beamTiltX = beamTiltX; self.beamTiltY = beamTiltY
    }
}

/// Writes `aberrations` (by optics group number) into the particle file's data_optics; the rows
/// of other groups keep their text (a column new to the table gets `[]` or 0 for them).
public func applyAberrations(to particles: RefineParticles, _ aberrations: [Int: GroupAberrations]) throws {
    guard !aberrations.isEmpty, let optics = particles.file.document.block("optics") else { return }
    let numbers = try optics.ints("rlnOpticsGroup")
    func update(_ label: String, empty: String, _ value: (GroupAberrations) -> String?) {
        guard aberrations.values.contains(where: { value($0) != nil }) else { return }
        var column = [String]()
        for (row, n) in numbers.enumerated() {
            if let a = aberrations[n], let v = value(a) { column.append(v) } else { column.append(optics.string(row: row, label) ?? empty) }
        }
        optics.setColumn(label, column)
    }
    update("rlnEvenZernike", empty: "[]") { $0.evenZernike.map(relionVectorText) }
    update("rlnOddZernike", empty: "[]") { $0.oddZernike.map(relionVectorText) }
    update("rlnBeamTiltX", empty: "0") { $0.beamTiltX.map { formatFixed($0, decimals: 6) } }
    update("rlnBeamTiltY", empty: "0") { $0.beamTiltY.map { formatFixed($0, decimals: 6) } }
}

/// Writes new defocus values (by particle row, 0-based) into the particle table; other rows keep their text.
public func applyDefocus(to particles: RefineParticles, _ defocus: [Int: (u: Double, v: Double, angle: Double)]) throws {
    guard !defocus.isEmpty else { return }
    let table = particles.file.particles
    var u = try table.strings("rlnDefocusU"), v = try table.strings("rlnDefocusV"), a = try table.strings("rlnDefocusAngle")
    for (row, d) in defocus {
        guard row >= 0, row < u.count else {
            throw RefineError.badParticle(file: particles.file.file, line: nil, row: row + 1, reason: "no such particle row")
        }
        u[row] = formatFixed(d.u, decimals: 6)
        v[row] = formatFixed(d.v, decimals: 6)
        a[row] = formatFixed(d.angle, decimals: 6)
    }
    table.setColumn("rlnDefocusU", u)
    table.setColumn("rlnDefocusV", v)
    table.setColumn("rlnDefocusAngle", a)
}
