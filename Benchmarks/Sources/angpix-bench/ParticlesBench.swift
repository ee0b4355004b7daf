// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix-bench particles: rescaling a generated particle set (default 20,000 particles of 256² at
// 1 Å in 100 stacks, to 1.28 Å = 200²) with `angpix particles rescale` (the library, all cores) and
// with relion_image_handler --rescale_angpix on the same stacks (one process per stack, one at a
// time, as RELION is usually run; optionally two at a time), in one run. Prints particles per
// second, the ratio, and the relative RMS difference of the two results on the first stack.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC
import AngpixParticles

struct ParticlesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "particles",
        abstract: "Particle-set rescale throughput: angpix vs relion_image_handler on the same stacks.",
        discussion: """
        The input (particles × box² × 4 bytes: 5.2 GB for the default) is generated under --data and \
        removed afterwards, as are both outputs.

        Example: swift run -c release angpix-bench particles --particles 2000
        """
    )

    @Option(help: "Number of particles.") var particles = 20_000
    @Option(help: "Number of stacks they are spread over.") var stacks = 100
    @Option(help: "Box of the generated particles (at 1 Å).") var box = 256
    @Option(help: "Target pixel size (Å): 1.28 takes 256 to 200.") var angpix = 1.28
    @Option(help: "Working folder.") var data = "bench-data/particles"
    @Option(help: "Threads for angpix (default: all cores).") var jobs: Int?
    @Flag(help: "Also time two relion_image_handler processes at a time.") var relionParallel = false
    @Flag(help: "Skip RELION.") var skipRelion = false

    func run() throws {
        if let jobs { Parallelism.setJobs(jobs) }
        let root = URL(fileURLWithPath: data).standardizedFileURL.path
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/Stacks", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }

        // Generate the stacks (smooth blobs plus noise) and the STAR file.
        let start = Date()
        var star = """
        data_optics
        loop_
        _rlnOpticsGroup
        _rlnOpticsGroupName
        _rlnAmplitudeContrast
        _rlnSphericalAberration
        _rlnVoltage
        _rlnImagePixelSize
        _rlnImageSize
        _rlnImageDimensionality
        1 opticsGroup1 0.1 2.7 300 1.000000 \(box) 2

        data_particles
        loop_
        _rlnImageName
        _rlnOpticsGroup
        _rlnDefocusU

        """
        let perStack = splitRange(particles, into: stacks)
        var state: UInt64 = 7
        var image = [Float](repeating: 0, count: box * box)
        // 35 blob positions, computed once; every particle is one of them plus fresh noise.
        var blobs: [[Float]] = []
        for b in 0..<35 {
            let cx = Double(box) / 2 + Double(b % 7) - 3, cy = Double(box) / 2 + Double(b / 7) - 2
            blobs.append((0..<(box * box)).map { i in
                let x = Double(i % box) - cx, y = Double(i / box) - cy
                return Float(exp(-(x * x + y * y) / 800))
            })
        }
        for (s, range) in perStack.enumerated() {
            let writer = try MRCStackWriter(path: root + "/Stacks/s\(s).mrcs", nx: box, ny: box, pixelSize: 1.0,
                                            policy: OutputPolicy(overwrite: true))
            for n in 0..<range.count {
                let blob = blobs[(n % 7) + 7 * (s % 5)]
                for i in 0..<(box * box) {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    image[i] = blob[i] + Float(state >> 40) * (1 / Float(1 << 24)) - 0.5
                }
                try writer.append(image)
                star += String(format: "%06d", n + 1) + "@Stacks/s\(s).mrcs 1 10000\n"
            }
            try writer.commit()
        }
        try star.write(toFile: root + "/particles.star", atomically: false, encoding: .utf8)
        print(String(format: "generated %d particles of %d² in %d stacks (%.1f GB) in %.1f s", particles, box,
                     perStack.count, Double(particles * box * box * 4) / 1e9, Date().timeIntervalSince(start)))

        // angpix.
        let t0 = Date()
        let request = ParticleRescaleRequest(starPath: root + "/particles.star", settings: RescaleSettings(pixelSize: angpix),
                                             outputDirectory: root + "/angpix", force: true, projectDirectory: root)
        let summary = try rescaleParticleSet(request)
        let angpixSeconds = Date().timeIntervalSince(t0)
        let newBox = summary.groups.first?.finalBox ?? 0
        let angpixRate = Double(particles) / angpixSeconds
        print(String(format: "angpix particles rescale (%d threads): %d² -> %d², %.2f s, %.0f particles/s",
                     Parallelism.jobs, box, newBox, angpixSeconds, angpixRate))

        guard !skipRelion, let relion = which("relion_image_handler") else {
            print("relion_image_handler: not run" + (skipRelion ? "" : " (not installed)"))
            return
        }
        try FileManager.default.createDirectory(atPath: root + "/relion", withIntermediateDirectories: true)
        let angpix = self.angpix
        @Sendable func runRelion(_ s: Int, _ suffix: String) -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: relion)
            p.arguments = ["--i", root + "/Stacks/s\(s).mrcs", "--o", root + "/relion/s\(s)\(suffix).mrcs",
                           "--rescale_angpix", String(angpix)]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { return -1 }
            p.waitUntilExit()
            return p.terminationStatus
        }
        let t1 = Date()
        for s in perStack.indices where runRelion(s, "") != 0 {
            throw CoreError.invalidArgument("relion_image_handler failed on stack \(s)")
        }
        let relionSeconds = Date().timeIntervalSince(t1)
        let relionRate = Double(particles) / relionSeconds
        print(String(format: "relion_image_handler (one process at a time): %.2f s, %.0f particles/s", relionSeconds, relionRate))
        print(String(format: "ratio angpix / RELION: %.2f×", angpixRate / relionRate))

        // Same result? (first stack)
        let ours = try MRCStackReader(path: root + "/angpix/Stacks/s0.mrcs")
        let theirs = try MRCStackReader(path: root + "/relion/s0.mrcs")
        var a = [Float](repeating: 0, count: ours.nx * ours.ny * ours.count)
        var b = [Float](repeating: 0, count: theirs.nx * theirs.ny * theirs.count)
        try a.withUnsafeMutableBufferPointer { try ours.readImages(0..<ours.count, into: $0) }
        try b.withUnsafeMutableBufferPointer { try theirs.readImages(0..<theirs.count, into: $0) }
        if a.count == b.count {
            var d = 0.0, n = 0.0
            for i in a.indices { d += Double(a[i] - b[i]) * Double(a[i] - b[i]); n += Double(b[i]) * Double(b[i]) }
            print(String(format: "relative RMS difference angpix vs RELION (stack 0): %.2e", (d / n).squareRoot()))
        } else {
            print("angpix and RELION stacks differ in size: \(ours.nx)²×\(ours.count) vs \(theirs.nx)²×\(theirs.count)")
        }
        try? FileManager.default.removeItem(atPath: root + "/relion")

        if relionParallel {
            try FileManager.default.createDirectory(atPath: root + "/relion", withIntermediateDirectories: true)
            let t2 = Date()
            let failures = FailureCount()
            DispatchQueue.concurrentPerform(iterations: 2) { w in
                for s in stride(from: w, to: perStack.count, by: 2) where runRelion(s, "p") != 0 { failures.add() }
            }
            let parallelSeconds = Date().timeIntervalSince(t2)
            let parallelRate = Double(particles) / parallelSeconds
            print(String(format: "relion_image_handler (two processes at a time): %.2f s, %.0f particles/s; ratio %.2f×",
                         parallelSeconds, parallelRate, angpixRate / parallelRate)
                  + (failures.value > 0 ? " (\(failures.value) failures)" : ""))
        }
    }

    private func which(_ tool: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for d in dirs + ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: d + "/" + tool) {
            return d + "/" + tool
        }
        return nil
    }
}

/// A count shared by threads.
private final class FailureCount: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
