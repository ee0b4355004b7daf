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
}

/// Particle selection by micrograph.
public enum STARSubset {
    /// Keeps the particles of `particles` whose rlnMicrographName is listed in `micrographs`.
    public static func byMicrographs(particles: STARDocument, particlesFile: String,
                                     micrographs: STARDocument, micrographsFile: String) throws -> STARSubsetResult {
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
        let blocks = particles.blocks.map { $0 === table ? selected : $0 }
        let document = STARDocument(blocks: blocks)
        return STARSubsetResult(document: document, totalParticles: table.rowCount, keptParticles: keep.count,
                                listedMicrographs: listed.count, matchedMicrographs: counts.filter { $0 > 0 }.count,
                                micrographsWithoutParticles: listed.indices.filter { counts[$0] == 0 }.map { listed[$0] })
    }
}
