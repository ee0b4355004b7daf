// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// PDBx/mmCIF coordinates (wwPDB PDBx/mmCIF dictionary, category _atom_site), read through the
// STAR engine (mmCIF is a STAR dialect). Columns used: Cartn_x/y/z (Å), type_symbol,
// label_atom_id / auth_atom_id, label_alt_id, label_comp_id / auth_comp_id, auth_asym_id /
// label_asym_id, auth_seq_id / label_seq_id, pdbx_PDB_ins_code, occupancy, B_iso_or_equiv,
// group_PDB and pdbx_PDB_model_num (only the first model is kept). "." and "?" mean "no value".

import AngpixCore
import AngpixSTAR

/// Reads the `_atom_site` table of an mmCIF file.
public enum MMCIFReader {
    public static func parse(_ bytes: [UInt8], path: String) throws -> AtomicModel {
        let document = try STARDocument(text: String(decoding: bytes, as: UTF8.self), name: path)
        guard let block = document.blocks.first(where: { $0.has("atom_site.Cartn_x") }) else {
            throw ModelError.noAtoms(path: path)
        }
        func column(_ labels: [String]) throws -> [String]? {
            for label in labels where block.has("atom_site." + label) {
                return try block.strings("atom_site." + label)
            }
            return nil
        }
        func required(_ label: String) throws -> [String] {
            guard let c = try column([label]) else { throw ModelError.missingColumn(path: path, label: "_atom_site." + label) }
            return c
        }
        let xs = try required("Cartn_x"), ys = try required("Cartn_y"), zs = try required("Cartn_z")
        let n = xs.count
        if n == 0 { throw ModelError.noAtoms(path: path) }
        let symbols = try column(["type_symbol"])
        let names = try column(["label_atom_id", "auth_atom_id"])
        let alts = try column(["label_alt_id"])
        let residues = try column(["label_comp_id", "auth_comp_id"])
        let chains = try column(["auth_asym_id", "label_asym_id"])
        let numbers = try column(["auth_seq_id", "label_seq_id"])
        let insertions = try column(["pdbx_PDB_ins_code"])
        let occupancies = try column(["occupancy"])
        let bs = try column(["B_iso_or_equiv"])
        let groups = try column(["group_PDB"])
        let models = try column(["pdbx_PDB_model_num"])
        // The line of each row, for error messages.
        func lineOf(_ row: Int) -> Int { block.line(row: row) ?? 0 }
        func value(_ c: [String]?, _ row: Int) -> String {
            guard let c else { return "" }
            let v = c[row]
            return (v == "." || v == "?") ? "" : v
        }
        var atoms: [Atom] = []
        atoms.reserveCapacity(n)
        let firstModel = models.map { value($0, 0) } ?? ""
        var modelNumbers = Set<String>()
        for row in 0..<n {
            let model = value(models, row)
            modelNumbers.insert(model)
            if model != firstModel { continue }
            guard let x = Double(xs[row]), let y = Double(ys[row]), let z = Double(zs[row]),
                  x.isFinite, y.isFinite, z.isFinite else {
                throw ModelError.badCoordinate(path: path, line: lineOf(row), text: "\(xs[row]) \(ys[row]) \(zs[row])")
            }
            var occupancy = 1.0, b = 0.0
            let o = value(occupancies, row)
            if !o.isEmpty {
                guard let v = Double(o), v.isFinite else {
                    throw ModelError.badNumber(path: path, line: lineOf(row), field: "occupancy", text: o)
                }
                occupancy = v
            }
            let bt = value(bs, row)
            if !bt.isEmpty {
                guard let v = Double(bt), v.isFinite else {
                    throw ModelError.badNumber(path: path, line: lineOf(row), field: "B_iso_or_equiv", text: bt)
                }
                b = v
            }
            let name = value(names, row)
            var element = ElementSymbol.normalise(value(symbols, row))
            if element.isEmpty {
                guard let first = name.first(where: { $0.isLetter }) else {
                    throw ModelError.unknownElement(path: path, line: lineOf(row), atomName: name)
                }
                element = ElementSymbol.normalise(String(first))
            }
            atoms.append(Atom(x: x, y: y, z: z, element: element, name: name, residueName: value(residues, row),
                              chain: value(chains, row), residueNumber: Int(value(numbers, row)) ?? 0,
                              insertionCode: value(insertions, row), alternateLocation: value(alts, row),
                              occupancy: occupancy, bFactor: b, isHetero: value(groups, row) == "HETATM",
                              line: lineOf(row)))
        }
        if atoms.isEmpty { throw ModelError.noAtoms(path: path) }
        return AtomicModel(path: path, records: atoms, modelCount: max(1, modelNumbers.count))
    }
}
