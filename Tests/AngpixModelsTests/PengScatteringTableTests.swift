// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The Peng et al. (1996) Table 1 element table: coverage of the elements found in PDB entries,
// physical plausibility of every entry (f(0) = Σ a_i across the periodic table, the Mott-Bethe
// bound at high s), spot values against the published numbers, and the error for elements
// outside the table.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixModels

/// Elements common in PDB entries (ions, cofactors, heavy-atom derivatives) that must be in the table.
private let commonElements = ["H", "Li", "Be", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
                              "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "As", "Se",
                              "Br", "Kr", "Rb", "Sr", "Y", "Mo", "Ru", "Rh", "Pd", "Ag", "Cd", "Sn", "Sb", "Te", "I",
                              "Xe", "Cs", "Ba", "La", "Sm", "Eu", "Gd", "Tb", "Yb", "Lu", "W", "Re", "Os", "Ir", "Pt",
                              "Au", "Hg", "Tl", "Pb", "Bi"]

private let alkaliMetals: Set<String> = ["Li", "Na", "K", "Rb", "Cs"]

@Test func testTableHoldsEveryCommonPDBElementWithAContiguousAtomicNumber() throws {
    for e in commonElements {
        #expect(ScatteringFactor(element: e.uppercased()) != nil, "\(e) missing")
    }
    let numbers = pengScatteringFactors.values.map(\.z).sorted()
    #expect(numbers == Array(1...83))
    for (symbol, entry) in pengScatteringFactors {
        #expect(entry.a.count == 5 && entry.b.count == 5, "\(symbol)")
        // Widths positive and in increasing order, as published.
        #expect(entry.b[0] > 0 && zip(entry.b, entry.b.dropFirst()).allSatisfy { $0 < $1 }, "\(symbol): \(entry.b)")
        #expect(ElementSymbol.normalise(symbol) == symbol)
    }
}

@Test func testForwardScatteringChangesSmoothlyAndJumpsAtEachAlkaliMetal() throws {
    let bySymbol = pengScatteringFactors.sorted { $0.value.z < $1.value.z }
    for (previous, current) in zip(bySymbol, bySymbol.dropFirst()) {
        let f0 = current.value.a.reduce(0, +), p0 = previous.value.a.reduce(0, +)
        #expect(f0 > 0)
        let ratio = f0 / p0
        if alkaliMetals.contains(current.key) {
            // A new, diffuse valence shell: f(0) ∝ Z⟨r²⟩ jumps up.
            #expect(ratio > 1.4, "\(previous.key) -> \(current.key): \(ratio)")
        } else {
            // Within a period ⟨r²⟩ shrinks slowly as Z grows: neighbours differ by less than 25 %.
            #expect(ratio > 0.75 && ratio < 1.25, "\(previous.key) -> \(current.key): \(ratio)")
        }
    }
    // Hydrogen: f(0) = Z⟨r²⟩/(3 a₀) = a₀, the Bohr radius.
    #expect(abs(try #require(ScatteringFactor(element: "H")).forwardScattering - 0.5292) < 0.001)
}

@Test func testMottBetheBoundHoldsForEveryElement() throws {
    // f_e(s) = 0.023934 (Z - f_x(s)) / s² Å with 0 ≤ f_x ≤ Z, so f_e(s) s² / 0.023934 lies in
    // [0, Z]; at s = 2 Å⁻¹ the X-ray factor f_x is the core's, well below Z / 2.
    for (symbol, entry) in pengScatteringFactors {
        let f = try #require(ScatteringFactor(element: symbol))
        let z = Double(entry.z)
        for s in [0.25, 0.5, 1.0, 1.5, 2.0] {
            let effectiveCharge = f.value(s: s) * s * s / 0.023934
            #expect(effectiveCharge > 0 && effectiveCharge <= z * 1.01, "\(symbol) at s = \(s): \(effectiveCharge) vs Z = \(z)")
        }
        #expect(f.value(s: 2) * 4 / 0.023934 > 0.6 * z, "\(symbol)")
    }
}

@Test func testSpotValuesMatchThePublishedTable() throws {
    // Peng et al. (1996) Table 1, as checked against two independent copies.
    let zn = try #require(ScatteringFactor(element: "ZN"))
    #expect(zn.a == [0.4288, 1.2646, 1.4472, 1.8294, 1.0934])
    #expect(zn.b == [0.2593, 1.7998, 6.7500, 25.5860, 73.5284])
    let fe = try #require(ScatteringFactor(element: "Fe"))
    #expect(fe.a == [0.3946, 1.2725, 1.7031, 2.3140, 1.4795])
    #expect(fe.b == [0.2717, 2.0443, 7.6007, 29.9714, 86.2265])
    let hg = try #require(ScatteringFactor(element: "HG"))
    #expect(hg.b == [0.2413, 1.5298, 5.8009, 19.4520, 60.5753])
    // f(0) = Σ a_i of a few ions' neutral atoms.
    for (element, f0) in [("Mg", 5.2078), ("Ca", 9.9131), ("Na", 4.7758), ("Cl", 4.8577), ("Se", 7.2041), ("Cd", 9.2272), ("I", 10.9054)] {
        let f = try #require(ScatteringFactor(element: element))
        #expect(abs(f.forwardScattering - f0) < 1e-9, "\(element)")
    }
}

@Test func testCopperModelRendersWithoutSkippingElements() throws {
    let model = try ModelReader.read(path: fixture("4oz7.pdb")).model
    let prepared = try DensityAtoms(atoms: model.atoms)
    #expect(prepared.skipped.isEmpty)
    #expect(prepared.count == model.atoms.filter { $0.occupancy > 0 }.count)
}

@Test func testElementOutsideTheTableIsAnErrorNamingElementFileAndLine() throws {
    let dir = TemporaryDirectory()
    let text = """
    ATOM      1  CA  ALA A   1      10.000  10.000  10.000  1.00 20.00           C
    HETATM    2  U   URA A   2      12.000  10.000  10.000  1.00 20.00           U
    HETATM    3  U   URA A   3      14.000  10.000  10.000  1.00 20.00           U
    END
    """
    let path = dir.write("uranium.pdb", text + "\n")
    let model = try ModelReader.read(path: path).model
    let grid = MapGrid(nx: 16, ny: 16, nz: 16, pixelSize: 1.5)
    do {
        _ = try ModelMap.simulate(model, grid: grid)
        Issue.record("expected an error")
    } catch let error as ModelError {
        #expect(error == .noScatteringFactors(elements: ["U"], path: path, line: 2, atomName: "U"))
        #expect(error.description.hasPrefix("\(path):2: "))
        #expect(error.description.contains("element(s) U"))
        #expect(error.description.contains("--skip-unknown-elements"))
    }
    let skipped = try ModelMap.simulate(model, grid: grid, settings: ModelMapSettings(skipUnknownElements: true))
    #expect(skipped.contains { $0 > 0 })
}
