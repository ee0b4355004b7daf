// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A built-in atomic model: a bundle of ideal α-helices (3.6 residues per turn, 1.5 Å rise,
// backbone N, CA, C, O and CB at their usual radii from the helix axis), made on the fly so that
// demos and tests need no file and no network. It is a model for simulated maps, not a real
// protein.

import Foundation

/// A bundle of ideal, antiparallel α-helices around a common axis, for simulated maps.
public enum IdealHelixBundle {
    /// Atoms of the bundle (5 per residue): `helices` helices of `residues` residues each, centred on `centre` (Å).
    public static func atoms(helices: Int = 4, residues: Int = 24, centre: SIMD3<Double>) -> [Atom] {
        // Cylindrical coordinates of each backbone atom relative to its residue's CA:
        // (radius Å, angle offset degrees, height offset Å).
        let backbone: [(name: String, element: String, r: Double, dphi: Double, dz: Double)] = [
            ("N", "N", 1.55, -28, -0.95), ("CA", "C", 2.30, 0, 0), ("C", "C", 1.61, 26, 0.90),
            ("O", "O", 1.90, 30, 2.10), ("CB", "C", 3.60, -5, -0.70),
        ]
        let names = ["ALA", "LEU", "GLU", "LYS", "ILE", "SER", "ARG", "VAL"]
        var atoms: [Atom] = []
        let spacing = 10.0  // distance of each axis from the bundle's axis, Å
        for h in 0..<helices {
            let a = 2 * Double.pi * Double(h) / Double(helices) + Double.pi / 4
            let axis = SIMD2(spacing * cos(a), spacing * sin(a))
            let up = h % 2 == 0  // antiparallel neighbours
            let chain = String(UnicodeScalar(UInt8(65 + h)))
            for i in 0..<residues {
                let theta = (Double(i) * 100 + Double(h) * 37) * Double.pi / 180
                let z = (Double(i) - Double(residues - 1) / 2) * 1.5
                for b in backbone {
                    let phi = theta + b.dphi * Double.pi / 180
                    // A helix turned upside down (a rotation of 180° about x, so it stays right-handed).
                    let lx = b.r * cos(phi), ly = b.r * sin(phi)
                    let dz = up ? z + b.dz : -(z + b.dz)
                    let x = axis.x + lx, y = axis.y + (up ? ly : -ly)
                    atoms.append(Atom(x: centre.x + x, y: centre.y + y, z: centre.z + dz, element: b.element, name: b.name,
                                      residueName: names[(i + h) % names.count], chain: chain, residueNumber: i + 1,
                                      bFactor: 20))
                }
            }
        }
        return atoms
    }
}
