// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix particles rescale` end to end through the built binary: three shard processes merged
// equal one process, RELION 3.1.3 agrees on the stacks and reads the STAR file, bad input exits 1
// with a message naming the file and the particle.

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixSTAR
import AngpixTestSupport

/// A generated particle set in `root` (the RELION project folder): noise stacks
/// Extract/job007/Movies/micK.mrcs of `box`² at `pixelSize`, and particles.star visiting them interleaved.
private func makeParticleSet(_ root: String, stacks: [Int], box: Int = 64, pixelSize: Double = 1.0) throws -> Int {
    try FileManager.default.createDirectory(atPath: root + "/Extract/job007/Movies", withIntermediateDirectories: true)
    var state: UInt64 = 42
    for (k, count) in stacks.enumerated() {
        let writer = try MRCStackWriter(path: root + "/Extract/job007/Movies/mic\(k).mrcs", nx: box, ny: box,
                                        pixelSize: pixelSize, policy: OutputPolicy())
        for _ in 0..<count {
            let image: [Float] = (0..<(box * box)).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1 + Float(k)
            }
            try writer.append(image)
        }
        try writer.commit()
    }
    var text = relionOpticsBlock([TestOpticsGroup(name: "opticsGroup1", pixelSize: String(format: "%.6f", pixelSize),
                                                      originalPixelSize: "0.885000", box: box)]) + """


    # version 30001

    data_particles

    loop_
    _rlnImageName #1
    _rlnMicrographName #2
    _rlnOpticsGroup #3
    _rlnDefocusU #4
    _rlnOriginXAngst #5
    _rlnOriginYAngst #6

    """
    var rows = 0
    for n in 1...(stacks.max() ?? 0) {
        for k in stacks.indices where n <= stacks[k] {
            text += String(format: "%06d", n) + "@Extract/job007/Movies/mic\(k).mrcs MotionCorr/job002/mic\(k).mrc 1 "
                + String(format: "%.6f %.6f %.6f\n", 10000.0 + Double(rows), 0.5 * Double(rows % 5), -1.25)
            rows += 1
        }
    }
    try text.write(toFile: root + "/particles.star", atomically: false, encoding: .utf8)
    return rows
}

private func stackData(_ path: String) throws -> (box: Int, count: Int, pixelSize: Double, data: [Float]) {
    let reader = try MRCStackReader(path: path)
    var data = [Float](repeating: 0, count: reader.nx * reader.ny * reader.count)
    try data.withUnsafeMutableBufferPointer { try reader.readImages(0..<reader.count, into: $0) }
    return (reader.nx, reader.count, reader.pixelSize, data)
}

@Test func testThreeShardProcessesMergeToTheSingleProcessRun() throws {
    let dir = TemporaryDirectory()
    let particles = try makeParticleSet(dir.path, stacks: [4, 2, 3, 5, 1, 2, 3])
    let single = try runAngpix(["particles", "rescale", "particles.star", "--angpix", "1.3", "--box", "46",
                                "-o", "Single", "--jobs", "1"], cwd: dir.path)
    #expect(single.status == 0, "\(single.stderr)")
    // Three shards as three concurrent processes, as a job array would run them.
    nonisolated(unsafe) var results = [ProcessResult?](repeating: nil, count: 3)
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 3) { i in
        let r = try? runAngpix(["particles", "rescale", "particles.star", "--angpix", "1.3", "--box", "46",
                                "-o", "Sharded", "--shard", "\(i + 1)/3", "--jobs", "1"], cwd: dir.path)
        lock.lock(); results[i] = r; lock.unlock()
    }
    for r in results { #expect(r?.status == 0, "\(r?.stderr ?? "did not run")") }
    let merge = try runAngpix(["particles", "rescale", "--merge", "Sharded"], cwd: dir.path)
    #expect(merge.status == 0, "\(merge.stderr)")
    #expect(merge.stdout.contains("\(particles) particles"))
    let a = try String(contentsOfFile: dir.file("Single/particles.star"), encoding: .utf8)
    let b = try String(contentsOfFile: dir.file("Sharded/particles.star"), encoding: .utf8)
    // The same lines in the same order (blank lines between blocks may differ).
    func content(_ text: String, _ folder: String) -> [Substring] {
        text.replacingOccurrences(of: "@\(folder)/", with: "@OUT/").split(separator: "\n")
            .filter { !$0.allSatisfy(\.isWhitespace) }
    }
    #expect(content(a, "Single") == content(b, "Sharded"))
    #expect(a.contains("000001@Single/Extract/job007/Movies/mic0.mrcs"))
    for k in 0..<7 {
        let stack = "Extract/job007/Movies/mic\(k).mrcs"
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("Single/" + stack)))
                == Data(contentsOf: URL(fileURLWithPath: dir.file("Sharded/" + stack))))
    }
    // A rerun finds everything complete.
    let again = try runAngpix(["particles", "rescale", "particles.star", "--angpix", "1.3", "--box", "46", "-o", "Single"],
                              cwd: dir.path)
    #expect(again.status == 0 && again.stdout.contains("0 rescaled (0 images), 7 already complete"), "\(again.stdout)")
}

@Test(.enabled(if: Relion.has("relion_image_handler") && Relion.has("relion_star_handler"),
               Comment(rawValue: Relion.missing("relion_image_handler or relion_star_handler"))))
func testStacksMatchRelionImageHandlerAndRelionStarHandlerReadsTheResult() throws {
    let dir = TemporaryDirectory()
    let particles = try makeParticleSet(dir.path, stacks: [3, 2], box: 64, pixelSize: 1.0)
    for (angpix, box) in [("1.3", "40"), ("0.8", "")] {
        let out = "R" + angpix
        let r = try runAngpix(["particles", "rescale", "particles.star", "--angpix", angpix, "-o", out]
                              + (box.isEmpty ? [] : ["--box", box]), cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        for k in 0..<2 {
            let stack = "Extract/job007/Movies/mic\(k).mrcs"
            let relionOut = dir.file("relion_\(angpix)_\(k).mrcs")
            let rr = try runProcess(Relion.path("relion_image_handler")!,
                                    ["--i", stack, "--o", relionOut, "--rescale_angpix", angpix]
                                        + (box.isEmpty ? [] : ["--new_box", box]), cwd: dir.path)
            #expect(rr.status == 0, "\(rr.stderr)")
            let ours = try stackData(dir.file(out + "/" + stack)), theirs = try stackData(relionOut)
            #expect(ours.box == theirs.box && ours.count == theirs.count)
            #expect(abs(ours.pixelSize - theirs.pixelSize) < 1e-5 * theirs.pixelSize)
            var diff = 0.0, norm = 0.0
            for i in theirs.data.indices {
                let d = Double(ours.data[i]) - Double(theirs.data[i])
                diff += d * d
                norm += Double(theirs.data[i]) * Double(theirs.data[i])
            }
            let rms = (diff / norm).squareRoot()
            printMeasured("particles rescale mic\(k) --angpix \(angpix) --box \(box.isEmpty ? "-" : box): relative RMS difference", rms)
            #expect(rms < 1e-6, "relative RMS difference \(rms)")   // measured 1.4e-7 to 1.9e-7 (2026-12-01)
        }
        // RELION reads the new STAR file and opens every image through rlnImageName.
        let check = try runProcess(Relion.path("relion_star_handler")!,
                                   ["--i", out + "/particles.star", "--o", out + "/check.star", "--discard_on_stats",
                                    "--discard_sigma", "100"], cwd: dir.path)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let doc = try STARDocument(path: dir.file(out + "/check.star"))
        #expect(doc.block("particles")?.rowCount == particles)
        #expect(doc.block("optics")?.string(row: 0, "rlnImageSize") == (box.isEmpty ? "80" : box))
    }
}

@Test func testBadInputExitsOneNamingTheFileAndTheParticle() throws {
    let dir = TemporaryDirectory()
    _ = try makeParticleSet(dir.path, stacks: [2, 2])
    let star = try String(contentsOfFile: dir.file("particles.star"), encoding: .utf8)
    try star.replacingOccurrences(of: "000002@Extract/job007/Movies/mic1.mrcs", with: "000009@Extract/job007/Movies/mic1.mrcs")
        .write(toFile: dir.file("bad.star"), atomically: false, encoding: .utf8)
    let r = try runAngpix(["particles", "rescale", "bad.star", "--angpix", "2", "-o", "R"], cwd: dir.path)
    #expect(r.status == 1)
    #expect(r.stderr.contains("Extract/job007/Movies/mic1.mrcs: image 9 is referenced but the stack has 2 images (referenced by bad.star, particle 4)"),
            "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.file("R")))
    let missing = try runAngpix(["particles", "rescale", "--merge", "R"], cwd: dir.path)
    #expect(missing.status == 1 && missing.stderr.contains("R:"), "\(missing.stderr)")
    let help = try runAngpix(["particles", "rescale", "--help"])
    #expect(help.stdout.contains("Example:"))
}

@Test func testKilledRunLosesNothingAndResumes() throws {
    let dir = TemporaryDirectory()
    _ = try makeParticleSet(dir.path, stacks: Array(repeating: 16, count: 10), box: 128)
    let clean = try runAngpix(["particles", "rescale", "particles.star", "--angpix", "1.5", "-o", "Clean"], cwd: dir.path)
    #expect(clean.status == 0, "\(clean.stderr)")

    // Start a run and kill it (SIGKILL: no clean-up) as soon as its first stack is recorded. No
    // clock decides: the child is stopped (SIGSTOP) when a record appears, the records present
    // then are counted, and the resumed run must skip exactly those stacks. (Should the child
    // finish before a record is seen, all 10 are counted and the resumed run skips all 10.)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: angpixExecutable)
    process.arguments = ["particles", "rescale", "particles.star", "--angpix", "1.5", "-o", "Killed", "--jobs", "1"]
    process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let movies = dir.file("Killed/Extract/job007/Movies")
    func records() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: movies)) ?? []).filter { $0.hasSuffix(".angpix.json") }.count
    }
    func isStopped(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return false }
        return stat[close.upperBound...].first == "T"
    }
    while process.isRunning {
        if records() > 0 {
            kill(process.processIdentifier, SIGSTOP)
            // kill() may return before the child has stopped: wait for the state T in /proc.
            while process.isRunning && !isStopped(process.processIdentifier) { usleep(100) }
            break
        }
        usleep(500)
    }
    // Records are written atomically after their stack, so this count is what the rerun finds.
    let recorded = records()
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(recorded >= 1 && recorded <= 10)
    // Whatever exists under a stack's final name is a complete stack (atomic rename); each
    // recorded stack is there.
    let finalStacks = try FileManager.default.contentsOfDirectory(atPath: movies).filter { $0.hasSuffix(".mrcs") }
    #expect(finalStacks.count >= recorded, "\(finalStacks)")
    for name in finalStacks {
        let s = try stackData(movies + "/" + name)
        #expect(s.box == 84 && s.count == 16)
    }
    let resumed = try runAngpix(["particles", "rescale", "particles.star", "--angpix", "1.5", "-o", "Killed"], cwd: dir.path)
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("stacks: \(10 - recorded) rescaled (\((10 - recorded) * 16) images), \(recorded) already complete (\(recorded * 16) images)"),
            "\(recorded) stacks recorded at the kill: \(resumed.stdout)")
    for k in 0..<10 {
        let stack = "Extract/job007/Movies/mic\(k).mrcs"
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("Clean/" + stack)))
                == Data(contentsOf: URL(fileURLWithPath: dir.file("Killed/" + stack))))
    }
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: movies).filter { $0.contains("angpix-tmp") }
    #expect(leftovers.isEmpty, "\(leftovers)")
}
