// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix model info MODEL [--json]`: atoms, chains, residues, elements, bounding box, B-factors.

import AngpixCore
import ArgumentParser
import Foundation
import AngpixModels

struct ModelInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Summarise an atomic model: atoms, chains, residues, elements, bounding box, B-factors.",
        discussion: """
        Reads the first model of a PDB or PDBx/mmCIF file (plain or gzip-compressed). Of alternate \
        locations, the conformer of highest occupancy is kept for maps ("atoms for maps").

        Example:
          angpix model info 1orc.pdb
          angpix model info 1pfe.cif.gz --json
        """
    )

    @Argument(help: "The model file (.pdb, .cif, optionally .gz).")
    var model: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let (m, format) = try ModelReader.read(path: model)
        let s = m.summary(format: format.rawValue)
        if json {
            try printJSON(s)
            return
        }
        print("model:           \(s.path) (\(s.format)\(s.models > 1 ? ", first of \(s.models) models" : ""))")
        print("atoms:           \(s.atoms) (\(s.heteroAtoms) HETATM, \(s.alternateLocationRecords) with alternate locations; \(s.atomsForMaps) for maps)")
        print("chains:          \(s.chains.count) (\(s.chains.map { $0.isEmpty ? "-" : $0 }.joined(separator: " ")))")
        print("residues:        \(s.residues)")
        print("elements:        \(s.elements.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("bounding box:    \(s.boundingBoxMin.map { formatFixed($0, decimals: 3) }.joined(separator: " ")) to \(s.boundingBoxMax.map { formatFixed($0, decimals: 3) }.joined(separator: " ")) Å")
        print("size:            \(s.boundingBoxSize.map { formatFixed($0, decimals: 3) }.joined(separator: " × ")) Å")
        print("centroid:        \(s.centroid.map { formatFixed($0, decimals: 3) }.joined(separator: " ")) Å")
        print("B-factor:        min \(formatFixed(s.bFactorMin, decimals: 3)), median \(formatFixed(s.bFactorMedian, decimals: 3)), mean \(formatFixed(s.bFactorMean, decimals: 3)), max \(formatFixed(s.bFactorMax, decimals: 3)) Å²")
        print("mean occupancy:  \(formatFixed(s.occupancyMean, decimals: 3))")
    }
}
