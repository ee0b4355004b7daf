// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The magnification fit's sums over streamed particles: per optics group and half set
// (rlnRandomSubset), MagnificationEstimator's per-pixel normal equations, so that the whole set,
// each half set on its own (the spread between them is the second uncertainty refine.json gives)
// and the shards of a cluster run all come from the same additive sums.

import Foundation
import AngpixOptics

/// The magnification sums of the particles streamed so far, by optics group number and half set.
public struct MagnificationAccumulator: ObservationAccumulator, Codable {
    /// Sums by optics group number: [half set 1, half set 2].
    public var groups: [Int: [MagnificationSums]] = [:]
    let weights: [Int: FrequencyWeights]
    /// The group-only parts of the CTF, made from the first particle of each group seen.
    var tables: [Int: TransferTable] = [:]

    public init(weights: [Int: FrequencyWeights]) { self.weights = weights }

    enum CodingKeys: String, CodingKey { case groups }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        groups = try c.decode([Int: [MagnificationSums]].self, forKey: .groups)
        weights = [:]
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(groups, forKey: .groups)
    }

    public mutating func add(micrograph: String, observations: [ParticleObservation]) throws {
        for o in observations {
            guard let w = weights[o.opticsGroup], o.gradientX != nil, o.gradientY != nil else { continue }
            let grid = SpectrumGrid(opticsGroup: o.opticsGroup, boxSize: o.boxSize, pixelSize: o.pixelSize)
            if tables[o.opticsGroup] == nil || !(tables[o.opticsGroup]!.fits(o.ctf)) {
                tables[o.opticsGroup] = TransferTable(grid: grid, ctf: o.ctf)
            }
            if groups[o.opticsGroup] == nil { groups[o.opticsGroup] = [MagnificationSums(grid: grid), MagnificationSums(grid: grid)] }
            // In place (no copy of the per-pixel arrays per particle).
            try groups[o.opticsGroup]![o.randomSubset == 2 ? 1 : 0].add(o, weights: w, table: tables[o.opticsGroup])
        }
    }

    public mutating func merge(_ other: MagnificationAccumulator) throws {
        for (g, list) in other.groups {
            guard groups[g] != nil else { groups[g] = list; continue }
            for h in 0..<2 { try groups[g]![h].merge(list[h]) }
        }
    }
}
