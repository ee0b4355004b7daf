// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix refine magnification` as a user runs it: in the project folder, with a postprocess.star;
// three shards as separate processes merged against a single run; errors leave no output.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct RefineCLITests {
    static func matrices(_ json: String) throws -> [[Double]] {
        let summary = try JSONDecoder().decode(MagnificationSummary.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
        return summary.groups.map(\.newMatrix)
    }

    @Test func threeShardsMergeToASingleRun() throws {
        let dir = TemporaryDirectory("refine-cli-shards")
        _ = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .scale(1.02), particles: 30),
            SyntheticGroup(box: 40, pixelSize: 1.2, trueMatrix: anisotropic(percent: 1.5, axisDegrees: 30), particles: 30)])
        let common = ["refine", "magnification", "particles.star", "--postprocess", "postprocess.star", "--iterations", "1"]
        let single = try runAngpix(common + ["-o", "Single"], cwd: dir.path)
        #expect(single.status == 0, "\(single.stderr)")
        #expect(single.stdout.contains("optics group 1 (group1), 30 particles: pixel size"))
        for i in 1...3 {
            let r = try runAngpix(common + ["-o", "Sharded", "--shard", "\(i)/3", "-j", "1"], cwd: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: dir.path + "/Sharded/refine_shard002of003.json"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/Single/magnification.svg"))
        let merged = try runAngpix(["refine", "magnification", "--merge", "Sharded", "-o", "Sharded"], cwd: dir.path)
        #expect(merged.status == 0, "\(merged.stderr)")
        let a = try Self.matrices(dir.path + "/Single/refine.json"), b = try Self.matrices(dir.path + "/Sharded/refine.json")
        #expect(a.count == 2 && b.count == 2)
        for (x, y) in zip(a.joined(), b.joined()) { #expect(abs(x - y) < 1e-9) }
        printMeasured("single-run group 1 scale", a[0][0])
        // The merged particles.star is the single run's (same matrices, same defocus).
        let p1 = try RefineParticles(path: dir.path + "/Single/particles.star")
        let p2 = try RefineParticles(path: dir.path + "/Sharded/particles.star")
        #expect(p1.records.count == 60 && p2.records.count == 60)
        for (r1, r2) in zip(p1.records, p2.records) { #expect(abs(r1.defocusU - r2.defocusU) < 1e-3) }
        // A missing shard is named.
        try FileManager.default.removeItem(atPath: dir.path + "/Sharded/refine_shard002of003.json")
        let again = try runAngpix(["refine", "magnification", "--merge", "Sharded", "-o", "Merged2"], cwd: dir.path)
        #expect(again.status != 0 && again.stderr.contains("shards 2 of 3 are missing"), "\(again.stderr)")
    }

    @Test func errorsLeaveNoOutput() throws {
        let dir = TemporaryDirectory("refine-cli-errors")
        _ = try SyntheticParticleSet.make(in: dir.path, groups: [SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 20)])
        try FileManager.default.removeItem(atPath: dir.path + "/Stacks/mic2.mrcs")
        let r = try runAngpix(["refine", "magnification", "particles.star", "--postprocess", "postprocess.star", "-o", "Out"], cwd: dir.path)
        #expect(r.status != 0)
        #expect(r.stderr.contains("particles.star") && r.stderr.contains("Stacks/mic2.mrcs") && r.stderr.contains("particle 11"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/Out/particles.star"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/Out/refine.json"))
        // Neither --postprocess nor half maps.
        let none = try runAngpix(["refine", "magnification", "particles.star", "-o", "Out"], cwd: dir.path)
        #expect(none.status != 0 && none.stderr.contains("--postprocess"))
    }
}
