// Nothing is lost when angpix is killed or the disk fills up while it writes: the destination
// either does not exist or is the complete previous file, and no input changes.

import Testing
import Foundation
import AngpixMRC
import AngpixCore
import AngpixTestSupport

@Suite(.serialized) struct InterruptedWriteTests {
    /// A RELION 3.1 particle STAR file of `rows` particles in optics group `group` named `name`.
    static func particleFile(_ dir: TemporaryDirectory, _ fileName: String, name: String, pixelSize: Double, rows: Int) -> String {
        var text = "\n# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n"
        text += "_rlnAmplitudeContrast #3\n_rlnSphericalAberration #4\n_rlnVoltage #5\n_rlnImagePixelSize #6\n"
        text += "_rlnImageSize #7\n_rlnImageDimensionality #8\n"
        text += "1 \(name) 0.1 2.7 300 \(pixelSize) 128 2\n\n# version 30001\n\ndata_particles\n\nloop_\n"
        let labels = ["rlnImageName", "rlnMicrographName", "rlnOpticsGroup", "rlnDefocusU", "rlnDefocusV",
                      "rlnDefocusAngle", "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst"]
        for (i, l) in labels.enumerated() { text += "_\(l) #\(i + 1)\n" }
        var lines: [String] = []
        lines.reserveCapacity(rows)
        for i in 0..<rows {
            let mic = i / 200 + 1
            lines.append(String(format: "%06d@Extract/job007/mic_%06d.mrcs MotionCorr/job002/mic_%06d.mrc 1 %.6f %.6f %.6f %.6f %.6f %.6f %.6f %.6f",
                                i % 200 + 1, mic, mic, 10000.0 + Double(i % 9973), 9900.0 + Double(i % 7919), Double(i % 180) - 90,
                                Double(i % 360) - 180, Double(i % 180), Double(i % 97), Double(i % 13) * 0.5, -Double(i % 11) * 0.5))
        }
        text += lines.joined(separator: "\n") + "\n"
        return dir.write(fileName, text)
    }

    static func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Starts `angpix ARGS`, kills it with SIGKILL after `delay` seconds (if still running).
    static func runAndKill(_ arguments: [String], after delay: Double) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: angpixExecutable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return killed
    }

    /// Kills `arguments` at several points of its run and checks `output` each time.
    static func checkKills(_ arguments: [String], output: String, inputs: [String]) throws {
        let inputsBefore = inputs.map(contents)
        // A complete run, timed, gives the expected result.
        let start = Date()
        let full = try runAngpix(arguments)
        #expect(full.status == 0, "\(full.stderr)")
        let duration = Date().timeIntervalSince(start)
        let complete = try #require(contents(output))
        // The previous file: something else, complete.
        try writeFileAtomically(Data("previous complete file\n".utf8), to: output, policy: OutputPolicy(overwrite: true))
        let previous = try #require(contents(output))
        var kills = 0
        for fraction in [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95] {
            if try runAndKill(arguments, after: duration * fraction) { kills += 1 }
            let now = contents(output)
            #expect(now == previous || now == complete, "after a kill at \(fraction) of the run the output is neither the previous nor the complete file")
            if now == complete {
                try writeFileAtomically(previous, to: output, policy: OutputPolicy(overwrite: true))
            }
        }
        #expect(kills > 0, "the command always ended before it could be killed (\(duration) s)")
        #expect(inputs.map(contents) == inputsBefore, "an input changed")
    }

    @Test func killedStarJoinLeavesTheOutputWholeOrAsItWas() throws {
        let dir = TemporaryDirectory()
        let a = Self.particleFile(dir, "a.star", name: "dataset1", pixelSize: 1.0, rows: 150_000)
        let b = Self.particleFile(dir, "b.star", name: "dataset2", pixelSize: 1.1, rows: 150_000)
        let out = dir.file("joined.star")
        try Self.checkKills(["star", "join", a, b, "-o", out, "--force"], output: out, inputs: [a, b])
    }

    @Test func killedStackRescaleLeavesTheOutputWholeOrAsItWas() throws {
        let dir = TemporaryDirectory()
        let stack = dir.file("particles.mrcs")
        let n = 96
        let writer = try MRCStackWriter(path: stack, nx: n, ny: n, pixelSize: 1.0, policy: OutputPolicy())
        var image = [Float](repeating: 0, count: n * n)
        for k in 0..<1500 {
            for i in 0..<image.count { image[i] = Float((i &* 31 &+ k &* 17) % 101) / 50 - 1 }
            try image.withUnsafeBufferPointer { try writer.append($0) }
        }
        try writer.commit()
        let out = dir.file("rescaled.mrcs")
        try Self.checkKills(["map", "rescale", stack, "-o", out, "--angpix", "1.5", "--force"], output: out, inputs: [stack])
    }

    @Test func fullDiskIsAClearErrorAndLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        let a = Self.particleFile(dir, "a.star", name: "dataset1", pixelSize: 1.0, rows: 20_000)
        let b = Self.particleFile(dir, "b.star", name: "dataset2", pixelSize: 1.1, rows: 20_000)
        let out = dir.file("joined.star")
        let before = dir.listing()
        // A file-size limit makes write() fail with EFBIG, as a full disk makes it fail with ENOSPC.
        let script = "ulimit -f 512; trap '' XFSZ; exec \"$0\" \"$@\""
        let result = try runProcess("/bin/bash", ["-c", script, angpixExecutable, "star", "join", a, b, "-o", out])
        #expect(result.status == 1)
        #expect(result.stderr.contains(out), "\(result.stderr)")
        #expect(result.stderr.lowercased().contains("large") || result.stderr.lowercased().contains("space"), "\(result.stderr)")
        #expect(dir.listing() == before, "a partial output or temporary file was left behind")
    }
}
