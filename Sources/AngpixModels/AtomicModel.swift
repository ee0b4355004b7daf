// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Atomic models as read from PDB or PDBx/mmCIF files: one model (the first of the file), its atoms
// with Cartesian coordinates in Å, element, occupancy and isotropic B-factor (Å²). Alternate
// locations are resolved to one conformer per atom (see `AtomicModel.resolvingAlternateLocations`).

import AngpixCore

/// One atom of a model.
public struct Atom: Sendable, Equatable {
    /// Cartesian coordinates (Å).
    public var x: Double
    public var y: Double
    public var z: Double
    /// Element symbol, normalised to "C", "Fe", "Cl" (capitalised first letter, lower-case second).
    public var element: String
    /// Atom name ("CA", "O5'").
    public var name: String
    /// Residue name ("ALA", "HOH").
    public var residueName: String
    /// Chain identifier ("A").
    public var chain: String
    /// Residue number (auth_seq_id in mmCIF).
    public var residueNumber: Int
    /// Insertion code ("" when none).
    public var insertionCode: String
    /// Alternate location indicator ("" when none).
    public var alternateLocation: String
    /// Occupancy (0...1).
    public var occupancy: Double
    /// Isotropic atomic displacement parameter B (Å²).
    public var bFactor: Double
    /// True for HETATM records.
    public var isHetero: Bool
    /// Line of the file the atom was read from (1-based).
    public var line: Int

    public init(x: Double, y: Double, z: Double, element: String, name: String = "", residueName: String = "",
                chain: String = "", residueNumber: Int = 0, insertionCode: String = "",
                alternateLocation: String = "", occupancy: Double = 1, bFactor: Double = 0,
                isHetero: Bool = false, line: Int = 0) {
        self.x = x; self.y = y; self.z = z
        self.element = element; self.name = name; self.residueName = residueName
        self.chain = chain; self.residueNumber = residueNumber; self.insertionCode = insertionCode
        self.alternateLocation = alternateLocation; self.occupancy = occupancy; self.bFactor = bFactor
        self.isHetero = isHetero; self.line = line
    }
}

/// The first model of a PDB or mmCIF file.
public struct AtomicModel: Sendable {
    /// The file the model was read from.
    public var path: String
    /// Every ATOM/HETATM record of the first model, alternate locations included.
    public var records: [Atom]
    /// One atom per site: of alternate locations, the conformer of highest occupancy (the first on
    /// a tie) is kept, with the summed occupancy of all its alternatives (at most 1), so that each
    /// site contributes its full weight to a map.
    public var atoms: [Atom]
    /// How many MODEL blocks the file holds (1 when there are no MODEL records).
    public var modelCount: Int

    public init(path: String, records: [Atom], modelCount: Int = 1) {
        self.path = path
        self.records = records
        self.modelCount = modelCount
        self.atoms = AtomicModel.resolvingAlternateLocations(records)
    }

    /// Keeps one conformer per site (see `atoms`).
    public static func resolvingAlternateLocations(_ records: [Atom]) -> [Atom] {
        struct Site: Hashable { var chain: String; var residue: Int; var insertion: String; var name: String }
        var chosen: [Site: Int] = [:]      // site -> index into result
        var total: [Site: Double] = [:]
        var result: [Atom] = []
        result.reserveCapacity(records.count)
        for atom in records {
            if atom.alternateLocation.isEmpty {
                result.append(atom)
                continue
            }
            // Not keyed on the residue name: alternate residues at one site (microheterogeneity)
            // are alternatives too.
            let site = Site(chain: atom.chain, residue: atom.residueNumber, insertion: atom.insertionCode, name: atom.name)
            total[site, default: 0] += atom.occupancy
            if let i = chosen[site] {
                if atom.occupancy > result[i].occupancy { result[i] = atom }
            } else {
                chosen[site] = result.count
                result.append(atom)
            }
        }
        for (site, i) in chosen {
            result[i].occupancy = min(1, total[site] ?? result[i].occupancy)
        }
        return result
    }

    /// The centroid of `atoms` (Å).
    public var centroid: (x: Double, y: Double, z: Double) {
        var sx = 0.0, sy = 0.0, sz = 0.0
        for a in atoms { sx += a.x; sy += a.y; sz += a.z }
        let n = Double(max(1, atoms.count))
        return (sx / n, sy / n, sz / n)
    }
}

/// Summary statistics of a model (what `angpix model info` prints).
public struct ModelSummary: Sendable, Codable, Equatable {
    public var path: String
    public var format: String
    /// ATOM/HETATM records of the first model, alternate locations included.
    public var atoms: Int
    /// Atoms after keeping one conformer per site (the atoms used for maps).
    public var atomsForMaps: Int
    /// Records carrying an alternate location indicator.
    public var alternateLocationRecords: Int
    public var heteroAtoms: Int
    public var models: Int
    public var chains: [String]
    public var residues: Int
    /// Element symbol -> count (over `atoms`).
    public var elements: [String: Int]
    /// Bounding box (Å).
    public var boundingBoxMin: [Double]
    public var boundingBoxMax: [Double]
    public var boundingBoxSize: [Double]
    public var centroid: [Double]
    /// B-factor statistics (Å²) over `atomsForMaps`.
    public var bFactorMin: Double
    public var bFactorMax: Double
    public var bFactorMean: Double
    public var bFactorMedian: Double
    public var occupancyMean: Double
}

extension AtomicModel {
    /// Counts, bounding box and B-factor statistics.
    public func summary(format: String) -> ModelSummary {
        var chains: [String] = []
        var seenChains = Set<String>()
        struct Residue: Hashable { var chain: String; var number: Int; var insertion: String; var name: String }
        var residues = Set<Residue>()
        var elements: [String: Int] = [:]
        for a in records {
            if seenChains.insert(a.chain).inserted { chains.append(a.chain) }
            residues.insert(Residue(chain: a.chain, number: a.residueNumber, insertion: a.insertionCode, name: a.residueName))
            elements[a.element, default: 0] += 1
        }
        var lo = [Double.infinity, .infinity, .infinity], hi = [-Double.infinity, -.infinity, -.infinity]
        for a in atoms {
            lo[0] = min(lo[0], a.x); lo[1] = min(lo[1], a.y); lo[2] = min(lo[2], a.z)
            hi[0] = max(hi[0], a.x); hi[1] = max(hi[1], a.y); hi[2] = max(hi[2], a.z)
        }
        let bs = atoms.map(\.bFactor).sorted()
        let median = bs.isEmpty ? 0 : (bs.count % 2 == 1 ? bs[bs.count / 2] : 0.5 * (bs[bs.count / 2 - 1] + bs[bs.count / 2]))
        let c = centroid
        let n = Double(max(1, atoms.count))
        return ModelSummary(
            path: path, format: format, atoms: records.count, atomsForMaps: atoms.count,
            alternateLocationRecords: records.filter { !$0.alternateLocation.isEmpty }.count,
            heteroAtoms: records.filter(\.isHetero).count, models: modelCount,
            chains: chains, residues: residues.count, elements: elements,
            boundingBoxMin: lo, boundingBoxMax: hi, boundingBoxSize: zip(hi, lo).map { $0 - $1 },
            centroid: [c.x, c.y, c.z],
            bFactorMin: bs.first ?? 0, bFactorMax: bs.last ?? 0, bFactorMean: bs.reduce(0, +) / n,
            bFactorMedian: median, occupancyMean: atoms.map(\.occupancy).reduce(0, +) / n)
    }
}
