// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The PDB coordinate format (wwPDB "Protein Data Bank Contents Guide", version 3.3, section 9):
// fixed columns of ATOM/HETATM records — 13-16 atom name, 17 alternate location, 18-20 residue
// name, 22 chain, 23-26 residue number, 27 insertion code, 31-54 x y z (Å), 55-60 occupancy,
// 61-66 B-factor (Å²), 77-78 element. Only the first MODEL ... ENDMDL block is read.

import AngpixCore

/// Reads PDB files (plain or gzip-compressed).
public enum PDBReader {
    /// Parses PDB text; `path` names the file in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> AtomicModel {
        var atoms: [Atom] = []
        var modelCount = 0
        var inFirstModel = true
        var lineNumber = 0
        var start = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n && bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = bytes[start..<lineEnd]
            start = end + 1
            if line.count < 6 { continue }
            let record = field(line, 1, 6)
            switch record {
            case "MODEL":
                modelCount += 1
                inFirstModel = modelCount == 1
            case "ENDMDL":
                inFirstModel = false
            case "ATOM", "HETATM":
                guard inFirstModel else { continue }
                atoms.append(try parseAtom(line, isHetero: record == "HETATM", lineNumber: lineNumber, path: path))
            default:
                continue
            }
        }
        if atoms.isEmpty { throw ModelError.noAtoms(path: path) }
        return AtomicModel(path: path, records: atoms, modelCount: max(1, modelCount))
    }

    /// The trimmed text of 1-based columns `from...to` (shorter lines give what is there).
    static func field(_ line: ArraySlice<UInt8>, _ from: Int, _ to: Int) -> String {
        let lo = line.startIndex + from - 1
        let hi = min(line.endIndex, line.startIndex + to)
        guard lo < hi else { return "" }
        var a = lo, b = hi
        while a < b && (line[a] == 0x20 || line[a] == 0x09) { a += 1 }
        while b > a && (line[b - 1] == 0x20 || line[b - 1] == 0x09) { b -= 1 }
        return String(decoding: line[a..<b], as: UTF8.self)
    }

    /// The raw (untrimmed) text of 1-based columns.
    static func rawField(_ line: ArraySlice<UInt8>, _ from: Int, _ to: Int) -> String {
        let lo = line.startIndex + from - 1
        let hi = min(line.endIndex, line.startIndex + to)
        guard lo < hi else { return "" }
        return String(decoding: line[lo..<hi], as: UTF8.self)
    }

    static func parseAtom(_ line: ArraySlice<UInt8>, isHetero: Bool, lineNumber: Int, path: String) throws -> Atom {
        let xs = field(line, 31, 38), ys = field(line, 39, 46), zs = field(line, 47, 54)
        guard let x = Double(xs), let y = Double(ys), let z = Double(zs), x.isFinite, y.isFinite, z.isFinite else {
            throw ModelError.badCoordinate(path: path, line: lineNumber, text: rawField(line, 31, 54))
        }
        let occupancyText = field(line, 55, 60)
        let bText = field(line, 61, 66)
        var occupancy = 1.0, b = 0.0
        if !occupancyText.isEmpty {
            guard let v = Double(occupancyText), v.isFinite else {
                throw ModelError.badNumber(path: path, line: lineNumber, field: "occupancy (columns 55-60)", text: occupancyText)
            }
            occupancy = v
        }
        if !bText.isEmpty {
            guard let v = Double(bText), v.isFinite else {
                throw ModelError.badNumber(path: path, line: lineNumber, field: "B-factor (columns 61-66)", text: bText)
            }
            b = v
        }
        let rawName = rawField(line, 13, 16)
        let name = rawName.trimmingSpaces()
        let residueText = field(line, 23, 26)
        let residue = Int(residueText) ?? 0
        var element = ElementSymbol.normalise(field(line, 77, 78).filter { $0.isLetter })
        if element.isEmpty {
            guard let derived = ElementSymbol.fromPDBAtomName(rawName, residueName: field(line, 18, 20)) else {
                throw ModelError.unknownElement(path: path, line: lineNumber, atomName: name)
            }
            element = derived
        }
        return Atom(x: x, y: y, z: z, element: element, name: name, residueName: field(line, 18, 20),
                    chain: field(line, 22, 22), residueNumber: residue, insertionCode: field(line, 27, 27),
                    alternateLocation: field(line, 17, 17), occupancy: occupancy, bFactor: b,
                    isHetero: isHetero, line: lineNumber)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

/// Element symbols: normalisation and the PDB atom-name convention.
public enum ElementSymbol {
    /// "FE" / "fe" / "Fe" -> "Fe"; "" stays "".
    public static func normalise(_ text: String) -> String {
        let letters = text.filter { $0.isLetter }
        guard let first = letters.first else { return "" }
        return first.uppercased() + letters.dropFirst().lowercased()
    }

    /// Two-letter elements that occur in macromolecular models under their own name.
    static let twoLetter: Set<String> = ["Fe", "Zn", "Mg", "Ca", "Cl", "Na", "Mn", "Cu", "Co", "Ni", "Br",
                                          "Se", "Cd", "Hg", "Li", "Al", "Si", "Ar", "Ga", "Rb", "Sr", "Cs",
                                          "Ba", "Pt", "Au", "Pb", "Ir", "Os", "Ru", "Rh", "Pd", "Ag", "Yb",
                                          "Sm", "Gd", "Eu", "Tb", "Lu", "He", "Ne", "Kr", "Xe", "Be", "Mo", "Cr", "Sb"]

    /// The element of a PDB atom name (columns 13-16) without an element column: the element is
    /// right-justified in columns 13-14, so " CA " is carbon and "CA  " calcium; four-character
    /// names starting with H (e.g. "HG21") are hydrogens.
    public static func fromPDBAtomName(_ raw: String, residueName: String) -> String? {
        let chars = Array(raw)
        guard !chars.isEmpty else { return nil }
        let c0 = chars[0], c1: Character = chars.count > 1 ? chars[1] : " "
        if c0 == " " || c0.isNumber {
            return c1.isLetter ? normalise(String(c1)) : nil
        }
        guard c0.isLetter else { return nil }
        if c1.isLetter {
            let pair = normalise(String([c0, c1]))
            if chars.count >= 4, chars[3] != " ", c0 == "H" || c0 == "D" { return "H" }
            if twoLetter.contains(pair), residueName.trimmingSpaces().uppercased() == raw.trimmingSpaces().uppercased()
                || raw.trimmingSpaces().count <= 2 {
                return pair
            }
            if twoLetter.contains(pair) && !["C", "N", "O", "S", "H", "P"].contains(String(c0).uppercased()) { return pair }
        }
        return normalise(String(c0))
    }
}
