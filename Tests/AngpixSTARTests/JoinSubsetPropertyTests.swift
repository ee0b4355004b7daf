// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Property: joining datasets and then taking the subset of each dataset's micrographs (the way the
// reference text runs Polishing on combined datasets) gives back each dataset's particles exactly,
// each still pointing to optics identical to its original group.

import AngpixCore
import Testing
import Foundation
@testable import AngpixSTAR
import AngpixTestSupport

@Suite struct JoinSubsetPropertyTests {
    struct Dataset {
        var document: STARDocument
        var file: String
        var micrographs: [String]
    }

    /// A dataset with 1–3 optics groups and particles on its own micrographs.
    static func dataset(_ index: Int, _ rng: inout SplitMix64) -> Dataset {
        let groups = Int.random(in: 1...3, using: &rng)
        var opticsRows: [[String]] = []
        for g in 1...groups {
            let pixelSize = [0.825, 1.0, 1.06, 1.1, 1.347].randomElement(using: &rng)!
            let box = [128, 140, 256, 300].randomElement(using: &rng)!
            // Some datasets reuse the name "shared" with their own optics only when identical.
            let name = (g == 1 && index > 0 && Bool.random(using: &rng)) ? "shared" : "ds\(index)_g\(g)"
            let row = name == "shared" ? ["\(g)", name, "0.1", "2.7", "300", "1.0", "140"]
                                       : ["\(g)", name, "0.1", "2.7", "300", "\(pixelSize)", "\(box)"]
            opticsRows.append(row)
        }
        let micrographs = (0..<Int.random(in: 1...6, using: &rng)).map { "MotionCorr/job00\(index)/mic_\($0).mrc" }
        var particleRows: [[String]] = []
        for i in 0..<Int.random(in: 1...60, using: &rng) {
            let mic = micrographs.randomElement(using: &rng)!
            particleRows.append([
                String(format: "%06d@Extract/job%03d/stack.mrcs", i + 1, index),
                mic,
                "\(Int.random(in: 1...groups, using: &rng))",
                String(Double.random(in: 5000...25000, using: &rng)),
                String(format: "%.6f", Double.random(in: -180...180, using: &rng)),
            ])
        }
        let optics = STARBlock(name: "optics", labels: ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast",
                                                        "rlnSphericalAberration", "rlnVoltage", "rlnImagePixelSize", "rlnImageSize"],
                               rows: opticsRows)
        let particles = STARBlock(name: "particles", labels: ["rlnImageName", "rlnMicrographName", "rlnOpticsGroup",
                                                             "rlnDefocusU", "rlnAnglePsi"], rows: particleRows)
        return Dataset(document: STARDocument(blocks: [optics, particles]), file: "dataset\(index).star", micrographs: micrographs)
    }

    /// The optics of a group, without its number: what must survive the join.
    static func optics(_ table: OpticsTable, _ number: Int) -> [String] {
        guard let g = table.group(number) else { return ["missing \(number)"] }
        return [g.name, "\(g.imagePixelSize)", "\(g.imageSize)", "\(g.voltage)", "\(g.sphericalAberration)", "\(g.amplitudeContrast)"]
    }

    @Test func joinThenSubsetByEachDatasetsMicrographsGivesItsParticlesBack() throws {
        for seed in 1...60 as ClosedRange<UInt64> {
            var rng = SplitMix64(seed: seed)
            let datasets = (0..<Int.random(in: 2...4, using: &rng)).map { Self.dataset($0, &rng) }
            // Round-trip each input through text, as files would be.
            let inputs = try datasets.map { (document: try STARDocument(text: $0.document.serialized(), name: $0.file), file: $0.file) }
            let joined = try STARJoin.join(inputs).document
            let joinedOptics = try OpticsTable(block: try #require(joined.block("optics")), file: "joined")
            for dataset in datasets {
                let list = STARDocument(blocks: [STARBlock(name: "micrographs", labels: ["rlnMicrographName"],
                                                           rows: dataset.micrographs.map { [$0] })])
                let subset = try STARSubset.byMicrographs(particles: joined, particlesFile: "joined",
                                                          micrographs: list, micrographsFile: "corrected_micrographs.star").document
                let original = try #require(dataset.document.block("particles"))
                let result = try #require(subset.block("particles"))
                let originalOptics = try OpticsTable(block: try #require(dataset.document.block("optics")), file: dataset.file)
                #expect(result.rowCount == original.rowCount, "seed \(seed) \(dataset.file)")
                guard result.rowCount == original.rowCount else { continue }
                for row in 0..<original.rowCount {
                    for label in ["rlnImageName", "rlnMicrographName", "rlnDefocusU", "rlnAnglePsi"] {
                        #expect(result.string(row: row, label) == original.string(row: row, label), "seed \(seed) row \(row) \(label)")
                    }
                    let before = Int(original.string(row: row, "rlnOpticsGroup")!)!
                    let after = Int(result.string(row: row, "rlnOpticsGroup")!)!
                    #expect(Self.optics(joinedOptics, after) == Self.optics(originalOptics, before), "seed \(seed) row \(row)")
                }
            }
        }
    }
}
