// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of the particle-set rescale on generated particle sets: the stacks (checked
// against the closed-form rescale of band-limited images), the STAR file (what changes, what stays),
// --box, --group, resume, shards and merge, and bad input.

import Foundation
import Testing
import AngpixFourier
import AngpixCore
import AngpixMRC
import AngpixSTAR
import AngpixTestSupport
@testable import AngpixParticles

private func request(_ set: ParticleSetFixture, out: String, angpix: Double, box: Int? = nil, groups: [String] = [],
                     shard: Int = 1, of shards: Int = 1, force: Bool = false) -> ParticleRescaleRequest {
    ParticleRescaleRequest(starPath: set.starPath, settings: RescaleSettings(pixelSize: angpix, box: box, groups: groups),
                           outputDirectory: out, shard: shard, shardCount: shards, force: force,
                           projectDirectory: set.root)
}

/// The largest difference between a rescaled stack and the closed-form images (window to `final`).
private func maxError(_ path: String, stack k: Int, images: Int, rescaled: Int, final: Int, offset: Double) throws -> Float {
    let s = try readStack(path)
    #expect(s.box == final && s.count == images)
    var worst: Float = 0
    for n in 0..<images {
        let expected = bandLimitedImage(waves(stack: k, image: n), offset: offset, box: rescaled)
        var windowed = [Float](repeating: 0, count: final * final)
        expected.withUnsafeBufferPointer { e in windowed.withUnsafeMutableBufferPointer { CentreWindow.apply(e, shape: [rescaled, rescaled], into: $0, newShape: [final, final]) } }
        for i in 0..<(final * final) { worst = max(worst, abs(s.data[n * final * final + i] - windowed[i])) }
    }
    return worst
}

@Test func testRescalesEveryStackAndPointsTheStarFileToThem() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path)
    let out = dir.file("Rescaled")
    let summary = try rescaleParticleSet(request(set, out: out, angpix: 1.3))
    #expect(summary.stacks.rescaledStacks == 3 && summary.stacks.rescaledImages == 12 && summary.stacks.skippedStacks == 0)
    #expect(summary.groups.map(\.rescaledBox) == [48])
    for k in 0..<3 {
        let path = out + "/" + ParticleSetFixture.stackPath(k)
        let s = try readStack(path)
        #expect(abs(s.pixelSize - 64.0 / 48.0) < 1e-5)
        // The whole stack (image 2 of stack 0 is not referenced, but is rescaled too).
        #expect(try maxError(path, stack: k, images: set.images[k], rescaled: 48, final: 48, offset: Double(k) - 0.5) < 2e-4)
        #expect(FileManager.default.fileExists(atPath: StackRecord.path(for: path)))
    }
    let input = try STARDocument(path: set.starPath)
    let output = try STARDocument(path: out + "/particles.star")
    let optics = output.block("optics")!
    #expect(optics.string(row: 0, "rlnImagePixelSize") == "1.333333")
    #expect(optics.string(row: 0, "rlnImageSize") == "48")
    for label in ["rlnMicrographOriginalPixelSize", "rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast"] {
        #expect(optics.string(row: 0, label) == input.block("optics")!.string(row: 0, label))
    }
    let before = input.block("particles")!, after = output.block("particles")!
    #expect(after.rowCount == set.rows.count && after.labels == before.labels)
    for (r, row) in set.rows.enumerated() {
        #expect(after.string(row: r, "rlnImageName") == String(format: "%06d", row.index) + "@" + out + "/"
                + ParticleSetFixture.stackPath(row.stack))
    }
    for label in before.labels where label != "rlnImageName" {
        #expect(try after.strings(label) == before.strings(label), "\(label) must not change")
    }
}

@Test func testBoxCropsAfterRescalingAndPaddingUpsamples() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path, images: [2, 3])
    let out = dir.file("R")
    _ = try rescaleParticleSet(request(set, out: out, angpix: 1.3, box: 40))
    #expect(try maxError(out + "/" + ParticleSetFixture.stackPath(1), stack: 1, images: 3, rescaled: 48, final: 40, offset: 0.5) < 2e-4)
    let optics = try STARDocument(path: out + "/particles.star").block("optics")!
    #expect(optics.string(row: 0, "rlnImageSize") == "40" && optics.string(row: 0, "rlnImagePixelSize") == "1.333333")
    // Finer sampling: 64 px at 1 Å to 0.5 Å is 128 px (Fourier padding), then padded to 140.
    let fine = dir.file("F")
    _ = try rescaleParticleSet(request(set, out: fine, angpix: 0.5, box: 140))
    #expect(try maxError(fine + "/" + ParticleSetFixture.stackPath(0), stack: 0, images: 2, rescaled: 128, final: 140, offset: -0.5) < 2e-4)
}

@Test func testOnlySelectedGroupIsRescaledOthersStayWhereTheyAre() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path, secondGroupStacks: [2])
    let out = dir.file("G")
    // Group 2 is at 0.9 Å: 64 × 0.9 / 1.2 = 48.
    let summary = try rescaleParticleSet(request(set, out: out, angpix: 1.2, groups: ["2"]))
    #expect(summary.stacks.rescaledStacks == 1 && summary.keptStacks == 2)
    #expect(!FileManager.default.fileExists(atPath: out + "/" + ParticleSetFixture.stackPath(0)))
    #expect(try readStack(out + "/" + ParticleSetFixture.stackPath(2)).box == 48)
    let doc = try STARDocument(path: out + "/particles.star")
    let optics = doc.block("optics")!
    #expect(optics.string(row: 0, "rlnImagePixelSize") == "1.000000" && optics.string(row: 0, "rlnImageSize") == "64")
    #expect(optics.string(row: 1, "rlnImagePixelSize") == "1.200000" && optics.string(row: 1, "rlnImageSize") == "48")
    let names = try doc.block("particles")!.strings("rlnImageName")
    for (r, row) in set.rows.enumerated() {
        let stack = ParticleSetFixture.stackPath(row.stack)
        #expect(names[r].hasSuffix("@" + (row.stack == 2 ? out + "/" + stack : stack)))
    }
}

@Test func testRerunSkipsCompleteStacksAndRedoesDamagedOnes() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path, images: [3, 3, 3, 3])
    let out = dir.file("R")
    _ = try rescaleParticleSet(request(set, out: out, angpix: 2.0))
    let paths = (0..<4).map { out + "/" + ParticleSetFixture.stackPath($0) }
    let original = try paths.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    let again = try rescaleParticleSet(request(set, out: out, angpix: 2.0))
    #expect(again.stacks.skippedStacks == 4 && again.stacks.rescaledStacks == 0)

    // Damage: 0 truncated, 1 one value changed, 2 record removed, 3 left alone. A stale temporary
    // file (a killed run) is cleaned up.
    let truncated = original[0].prefix(original[0].count - 100)
    try truncated.write(to: URL(fileURLWithPath: paths[0]))
    var altered = original[1]
    altered[altered.count - 7] ^= 0x10
    try altered.write(to: URL(fileURLWithPath: paths[1]))
    try FileManager.default.removeItem(atPath: StackRecord.path(for: paths[2]))
    let stale = (paths[3] as NSString).deletingLastPathComponent + "/.mic3.mrcs.angpix-tmp-1-2"
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stale))
    let mtime3 = fileIdentity(paths[3])!.modified
    let third = try rescaleParticleSet(request(set, out: out, angpix: 2.0))
    #expect(third.stacks.rescaledStacks == 3 && third.stacks.skippedStacks == 1)
    #expect(fileIdentity(paths[3])!.modified == mtime3)
    for k in 0..<3 { #expect(try Data(contentsOf: URL(fileURLWithPath: paths[k])) == original[k]) }
    // The stale temporary file belongs to stack 3, which was skipped: it stays until that stack is redone.
    _ = try rescaleParticleSet(request(set, out: out, angpix: 2.0, force: true))
    #expect(!FileManager.default.fileExists(atPath: stale))

    // Another run into the same folder is refused, without --force.
    let refused = #expect(throws: ParticlesError.self) { try rescaleParticleSet(request(set, out: out, angpix: 1.5)) }
    #expect(refused?.description.hasPrefix(out) == true, "\(String(describing: refused))")
    // A folder angpix did not write is not overwritten.
    let foreign = dir.file("F")
    try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
    try Data().write(to: URL(fileURLWithPath: foreign + "/particles.star"))
    #expect(throws: ParticlesError.foreignOutput(path: foreign + "/particles.star")) {
        try rescaleParticleSet(request(set, out: foreign, angpix: 2.0))
    }
}

@Test func testShardsMergeToTheSingleRunInTheOriginalOrder() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path, images: [2, 3, 1, 2, 2])
    let single = dir.file("S"), sharded = dir.file("P")
    _ = try rescaleParticleSet(request(set, out: single, angpix: 1.3))
    let e = #expect(throws: ParticlesError.self) { try mergeShards(outputDirectory: sharded) }
    #expect(e?.description.hasPrefix(sharded) == true, "\(String(describing: e))")
    var counted = 0
    for i in [3, 1] {
        counted += try rescaleParticleSet(request(set, out: sharded, angpix: 1.3, shard: i, of: 3)).particles
    }
    #expect(throws: ParticlesError.badShards(folder: sharded,
                                             reason: "missing particles_shard002of003.star (run those shards first)")) {
        try mergeShards(outputDirectory: sharded)
    }
    counted += try rescaleParticleSet(request(set, out: sharded, angpix: 1.3, shard: 2, of: 3)).particles
    #expect(counted == set.rows.count)
    let merged = try mergeShards(outputDirectory: sharded)
    #expect(merged.particles == set.rows.count && merged.shards == 3)
    let a = try String(contentsOfFile: single + "/particles.star", encoding: .utf8)
    let b = try String(contentsOfFile: sharded + "/particles.star", encoding: .utf8)
    // The same lines in the same order (blank lines between blocks may differ).
    func content(_ text: String, _ folder: String) -> [Substring] {
        text.replacingOccurrences(of: folder + "/", with: "OUT/").split(separator: "\n")
            .filter { !$0.allSatisfy(\.isWhitespace) }
    }
    #expect(content(a, single) == content(b, sharded))
    for k in 0..<5 {
        let s = try Data(contentsOf: URL(fileURLWithPath: single + "/" + ParticleSetFixture.stackPath(k)))
        let p = try Data(contentsOf: URL(fileURLWithPath: sharded + "/" + ParticleSetFixture.stackPath(k)))
        #expect(s == p)
    }
}

@Test func testPixelOriginsOfRelion30LabelsScaleWithThePixelSize() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path, images: [2], skipImage: false)
    var text = try String(contentsOfFile: set.starPath, encoding: .utf8)
    text = text.replacingOccurrences(of: "_rlnOriginYAngst #13\n", with: "_rlnOriginYAngst #13\n_rlnOriginX #14\n")
    text = text.replacingOccurrences(of: "-0.750000\n", with: "-0.750000 3.000000\n")
    try text.write(toFile: set.starPath, atomically: false, encoding: .utf8)
    let out = dir.file("R")
    _ = try rescaleParticleSet(request(set, out: out, angpix: 2.0))
    let p = try STARDocument(path: out + "/particles.star").block("particles")!
    #expect(try p.strings("rlnOriginX") == ["1.500000", "1.500000"])   // 3 px at 1 Å = 1.5 px at 2 Å
    #expect(try p.strings("rlnOriginXAngst") == ["0.000000", "1.250000"])
}

@Test func testBadInputNamesTheFileAndTheParticle() throws {
    let dir = TemporaryDirectory()
    let set = try ParticleSetFixture(root: dir.path, images: [2, 2])
    let star = try String(contentsOfFile: set.starPath, encoding: .utf8)
    func attempt(_ text: String) throws {
        try text.write(toFile: set.starPath, atomically: false, encoding: .utf8)
        _ = try rescaleParticleSet(request(set, out: dir.file("R"), angpix: 2.0))
    }
    let stack1 = ParticleSetFixture.stackPath(1)
    // An image number beyond the stack.
    #expect(throws: ParticlesError.badStack(stack: stack1, file: set.starPath, row: 2,
                                            reason: "image 7 is referenced but the stack has 2 images")) {
        try attempt(star.replacingOccurrences(of: "000001@" + stack1, with: "000007@" + stack1))
    }
    // A missing stack.
    #expect(throws: ParticlesError.badStack(stack: "Extract/job007/Movies/gone.mrcs", file: set.starPath, row: 2,
                                            reason: "no such file")) {
        try attempt(star.replacingOccurrences(of: "000001@" + stack1, with: "000001@Extract/job007/Movies/gone.mrcs"))
    }
    // A box that disagrees with rlnImageSize.
    #expect(throws: ParticlesError.badStack(stack: ParticleSetFixture.stackPath(0), file: set.starPath, row: 1,
                                            reason: "images are 64×64 but optics group 1 says rlnImageSize 72")) {
        try attempt(star.replacingOccurrences(of: "          64            2", with: "          72            2"))
    }
    // A RELION 3.0 file (no optics table).
    let v30 = "data_\nloop_\n_rlnImageName #1\n_rlnDetectorPixelSize #2\n000001@\(ParticleSetFixture.stackPath(0)) 5.0\n"
    #expect(throws: ParticlesError.noOpticsTable(file: set.starPath)) { try attempt(v30) }
    // Nothing was written by the failed attempts.
    #expect(!FileManager.default.fileExists(atPath: dir.file("R")))
}
