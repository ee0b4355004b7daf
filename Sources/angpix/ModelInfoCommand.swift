// `angpix model info MODEL [--json]`: atoms, chains, residues, elements, bounding box, B-factors.

import ArgumentParser
import Foundation
import AngpixModels

struct ModelInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Summarise an atomic model: atoms, chains, residues, elements, bounding box, B-factors.",
        discussion: """
        Reads the first model of a PDB or PDBx/mmCIF file (plain or gzip-compressed). Of alternate
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
        func f(_ v: Double) -> String { String(format: "%.3f", v) }
        print("model:           \(s.path) (\(s.format)\(s.models > 1 ? ", first of \(s.models) models" : ""))")
        print("atoms:           \(s.atoms) (\(s.heteroAtoms) HETATM, \(s.alternateLocationRecords) with alternate locations; \(s.atomsForMaps) for maps)")
        print("chains:          \(s.chains.count) (\(s.chains.map { $0.isEmpty ? "-" : $0 }.joined(separator: " ")))")
        print("residues:        \(s.residues)")
        print("elements:        \(s.elements.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("bounding box:    \(s.boundingBoxMin.map(f).joined(separator: " ")) to \(s.boundingBoxMax.map(f).joined(separator: " ")) Å")
        print("size:            \(s.boundingBoxSize.map(f).joined(separator: " × ")) Å")
        print("centroid:        \(s.centroid.map(f).joined(separator: " ")) Å")
        print("B-factor:        min \(f(s.bFactorMin)), median \(f(s.bFactorMedian)), mean \(f(s.bFactorMean)), max \(f(s.bFactorMax)) Å²")
        print("mean occupancy:  \(f(s.occupancyMean))")
    }
}
