// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Selecting the particles of some micrographs: keeps the rows of a particle table whose
// rlnMicrographName is listed in a MotionCorr `corrected_micrographs.star` (or any STAR file with
// an rlnMicrographName column). This is how RELION's "Pixel size issues" page runs Bayesian
// Polishing on a combined dataset: one MotionCorr job's micrographs at a time.

import AngpixCore

/// The selected particles and what matched.
public struct STARSubsetResult: Sendable {
    /// The input document with its particle table replaced by the selected rows.
    public var document: STARDocument
    public var totalParticles: Int
    public var keptParticles: Int
    /// Distinct micrographs listed in the micrographs file.
    public var listedMicrographs: Int
    /// Listed micrographs that have at least one particle.
    public var matchedMicrographs: Int
    /// Listed micrographs without any particle, in listing order.
    public var micrographsWithoutParticles: [String]
    /// With `onlyUsedOpticsGroups`: the optics groups kept, old number → new number.
    public var opticsGroupNumbers: [Int: Int] = [:]
}

/// Particle selection by micrograph.
public enum STARSubset {
    /// Keeps the particles of `particles` whose rlnMicrographName is listed in `micrographs`.
    /// With `onlyUsedOpticsGroups`, the optics table keeps only the groups of the kept particles,
    /// renumbered 1…n in their order (RELION numbers groups 1…n, and Polishing's parameter
    /// estimation refuses an optics table whose groups differ in pixel size or box).
    public static func byMicrographs(particles: STARDocument, particlesFile: String,
                                     micrographs: STARDocument, micrographsFile: String,
                                     onlyUsedOpticsGroups: Bool = false) throws -> STARSubsetResult {
        let table: STARBlock
        if particles.block("optics") != nil {
            table = try RelionParticleFile(document: particles, file: particlesFile).particles
        } else if let t = particles.blocks.first(where: { $0.isLoop && $0.has("rlnMicrographName") }) {
            table = t
        } else {
            throw STARError.invalid(file: particlesFile, line: nil, reason: "no particle table with an rlnMicrographName column")
        }
        guard table.has("rlnMicrographName") else {
            throw STARError.missingLabel(file: particlesFile, block: table.name, label: "rlnMicrographName")
        }
        guard let list = micrographs.block("micrographs") ?? micrographs.blocks.first(where: { $0.isLoop && $0.has("rlnMicrographName") }) else {
            throw STARError.invalid(file: micrographsFile, line: nil, reason: "no table with an rlnMicrographName column")
        }
        guard list.has("rlnMicrographName") else {
            throw STARError.missingLabel(file: micrographsFile, block: list.name, label: "rlnMicrographName")
        }
        if list.rowCount == 0 {
            throw STARError.invalid(file: micrographsFile, line: nil, reason: "data_\(list.name) lists no micrographs (no rows)")
        }
        var listed: [String] = []
        var index: [String: Int] = [:]
        for m in try list.strings("rlnMicrographName") where index[m] == nil {
            index[m] = listed.count
            listed.append(m)
        }
        let names = try table.columns(strings: ["rlnMicrographName"]).strings["rlnMicrographName"]!
        var counts = [Int](repeating: 0, count: listed.count)
        var keep: [Int] = []
        for (r, m) in names.enumerated() {
            if let i = index[m] { counts[i] += 1; keep.append(r) }
        }
        let selected = table.selectingRows(keep)
        var optics = particles.block("optics")
        var numbers: [Int: Int] = [:]
        if onlyUsedOpticsGroups, let o = optics, o.has("rlnOpticsGroup"), selected.has("rlnOpticsGroup") {
            let used = Set(try selected.ints("rlnOpticsGroup"))
            let groupNumbers = try o.ints("rlnOpticsGroup")
            let rows = groupNumbers.indices.filter { used.contains(groupNumbers[$0]) }
            for (k, r) in rows.enumerated() { numbers[groupNumbers[r]] = k + 1 }
            let kept = o.selectingRows(rows)
            kept.setColumn("rlnOpticsGroup", rows.indices.map { String($0 + 1) })
            selected.replaceValues(in: "rlnOpticsGroup", mapping: Dictionary(uniqueKeysWithValues: numbers.map { (String($0.key), String($0.value)) }))
            optics = kept
        }
        let original = particles.block("optics")
        let blocks = particles.blocks.map { $0 === table ? selected : ($0 === original ? optics! : $0) }
        let document = STARDocument(blocks: blocks)
        var result = STARSubsetResult(document: document, totalParticles: table.rowCount, keptParticles: keep.count,
                                      listedMicrographs: listed.count, matchedMicrographs: counts.filter { $0 > 0 }.count,
                                      micrographsWithoutParticles: listed.indices.filter { counts[$0] == 0 }.map { listed[$0] })
        result.opticsGroupNumbers = numbers
        return result
    }
}
