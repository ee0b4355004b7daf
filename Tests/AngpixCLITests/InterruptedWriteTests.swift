// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
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

    /// Starts `angpix ARGS` and waits until its temporary output file (`.NAME.angpix-tmp-PID-…`
    /// beside `output`, named with the child's process id) holds at least `minimumBytes`; then stops
    /// the child (SIGSTOP), looks whether that temporary file is still there — if so the rename
    /// has not happened and the kill lands in the middle of the write — and kills it (SIGKILL).
    /// Returns the size of the temporary file at the kill, or nil if the child got past the
    /// rename (or ended) first. No clock is involved: the kill point is defined by the bytes
    /// written. The killed child's temporary file is removed afterwards.
    static func runAndKill(_ arguments: [String], output: String, whenTemporaryHolds minimumBytes: Int) throws -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: angpixExecutable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let folder = (output as NSString).deletingLastPathComponent
        let prefix = ".\((output as NSString).lastPathComponent).angpix-tmp-\(pid)-"
        func temporaryFile() -> (path: String, size: Int)? {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            guard let name = names.first(where: { $0.hasPrefix(prefix) }) else { return nil }
            let path = (folder as NSString).appendingPathComponent(name)
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else { return nil }
            return (path, size)
        }
        var landed: Int? = nil
        while process.isRunning {
            if let t = temporaryFile(), t.size >= minimumBytes {
                kill(pid, SIGSTOP)
                // kill() may return before the child has stopped: wait for the state T in /proc.
                while process.isRunning && !isStopped(pid) { usleep(100) }
                landed = temporaryFile()?.size
                break
            }
            usleep(100)
        }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        if let t = temporaryFile() { try FileManager.default.removeItem(atPath: t.path) }
        return landed
    }

    /// Kills `arguments` at several points of its write, defined by the bytes its temporary output
    /// holds (from the first byte to 90 % of the complete file), and checks `output` each time.
    /// Whether process `pid` is stopped (state T in /proc/PID/stat; Linux).
    static func isStopped(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return false }
        return stat[close.upperBound...].first == "T"
    }

    static func checkKills(_ arguments: [String], output: String, inputs: [String]) throws {
        let inputsBefore = inputs.map(contents)
        // A complete run gives the expected result.
        let full = try runAngpix(arguments)
        #expect(full.status == 0, "\(full.stderr)")
        let complete = try #require(contents(output))
        // The previous file: something else, complete.
        try writeFileAtomically(Data("previous complete file\n".utf8), to: output, policy: OutputPolicy(overwrite: true))
        let previous = try #require(contents(output))
        for fraction in [0.0, 0.25, 0.5, 0.75, 0.9] {
            let minimumBytes = max(1, Int(fraction * Double(complete.count)))
            // A kill point is missed only if the child renames its file between two looks (0.1 ms
            // apart) at its growing temporary file; a few attempts make that practically impossible.
            var landedAt: Int? = nil, attempts = 0
            for _ in 0..<5 where landedAt == nil {
                attempts += 1
                landedAt = try runAndKill(arguments, output: output, whenTemporaryHolds: minimumBytes)
                let now = contents(output)
                #expect(now == previous || now == complete,
                        "after a kill at \(minimumBytes) of \(complete.count) bytes the output is neither the previous nor the complete file")
                if now != previous { try writeFileAtomically(previous, to: output, policy: OutputPolicy(overwrite: true)) }
            }
            let landed = try #require(landedAt, "no kill landed during the write at \(minimumBytes) of \(complete.count) bytes in 5 attempts")
            print("kill at \(minimumBytes) of \(complete.count) bytes of \(arguments[0]) \(arguments[1]): landed at \(landed) bytes, attempt \(attempts)")
            #expect(landed >= minimumBytes && landed <= complete.count)
            // Killed during the write, the destination is exactly the previous file.
            #expect(contents(output) == previous)
        }
        #expect(inputs.map(contents) == inputsBefore, "an input changed")
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: (output as NSString).deletingLastPathComponent)) ?? [])
            .filter { $0.contains("angpix-tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
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
