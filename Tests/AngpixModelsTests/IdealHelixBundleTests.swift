// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the built-in helix bundle (IdealHelixBundle): atom count, chains, centre and helix geometry.

import Testing
import AngpixModels

@Test func idealHelixBundleHasFiveBackboneAtomsPerResidueAroundTheCentre() {
    let centre = SIMD3<Double>(30, 40, 50)
    let atoms = IdealHelixBundle.atoms(helices: 4, residues: 24, centre: centre)
    #expect(atoms.count == 4 * 24 * 5)
    #expect(Set(atoms.map(\.chain)) == ["A", "B", "C", "D"])
    let mean = atoms.reduce(SIMD3<Double>.zero) { $0 + SIMD3($1.x, $1.y, $1.z) } / Double(atoms.count)
    #expect(((mean - centre) * (mean - centre)).sum().squareRoot() < 1.0)
    // Consecutive CA atoms of a helix are 3.8 Å apart (100° and 1.5 Å per residue at radius 2.3 Å).
    let ca = atoms.filter { $0.chain == "A" && $0.name == "CA" }
    let d = SIMD3(ca[1].x - ca[0].x, ca[1].y - ca[0].y, ca[1].z - ca[0].z)
    #expect(abs((d * d).sum().squareRoot() - 3.8) < 0.1)
}
