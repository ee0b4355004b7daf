// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix-bench postprocess`: relion_postprocess and angpix's Postprocessor on the same
// generated half maps (default 256³, auto B-factor, soft spherical mask), timed in one run.
// Inputs are generated once into ./bench-data/postprocess-<N>/ (never committed).

import ArgumentParser
import Foundation
import AngpixCore
import AngpixPostprocess

struct PostprocessBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postprocess",
        abstract: "angpix postprocess vs relion_postprocess on generated half maps.",
        discussion: "Example: swift run -c release angpix-bench postprocess --size 256"
    )

    @Option(help: "Box size of the generated half maps.")
    var size: Int = 256
    @Option(help: "Pixel size of the generated half maps (Å).")
    var pixelSize: Double = 1.1
    @Option(help: "Runs of each program (the best time is reported).")
    var repeats: Int = 1
    @Option(help: "Folder for the generated inputs and the outputs.")
    var data: String = "bench-data"

    func run() throws {
        let dir = (data as NSString).appendingPathComponent("postprocess-\(size)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let prefix = (dir as NSString).appendingPathComponent("bench")
        let half1 = prefix + "_half1.mrc", half2 = prefix + "_half2.mrc", mask = prefix + "_mask.mrc"
        if !FileManager.default.fileExists(atPath: mask) {
            print("Generating \(size)³ half maps in \(dir) …")
            let blobs = max(40, 40 * (size / 64) * (size / 64))
            _ = try SyntheticHalfMaps(size: size, pixelSize: pixelSize, blobs: blobs, seed: 2024).write(prefix: prefix)
        }

        var angpixBest = Double.infinity
        var result: PostprocessResult? = nil
        for _ in 0..<max(1, repeats) {
            let t0 = Date()
            var o = PostprocessOptions()
            o.autoBFactor = true
            let r = try Postprocessor.run(half1: half1, half2: half2, mask: mask, options: o)
            _ = try r.write(to: (dir as NSString).appendingPathComponent("angpix"),
                            inputs: PostprocessInputNames(half1: half1, half2: half2, mask: mask),
                            commandLine: "angpix-bench postprocess", policy: OutputPolicy(overwrite: true))
            angpixBest = min(angpixBest, Date().timeIntervalSince(t0))
            result = r
        }
        print(String(format: "angpix postprocess     %8.2f s   (final resolution %.3f Å, B %.1f Å², %d threads)",
                     angpixBest, result!.finalResolution, result!.bFactor, Parallelism.jobs))

        guard let relion = findExecutable("relion_postprocess") else {
            print("relion_postprocess    not installed: no comparison")
            return
        }
        let outDir = (dir as NSString).appendingPathComponent("relion")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        var relionBest = Double.infinity
        for _ in 0..<max(1, repeats) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: relion)
            p.arguments = ["--i", half1, "--i2", half2, "--mask", mask, "--o", (outDir as NSString).appendingPathComponent("postprocess"), "--auto_bfac"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            let t0 = Date()
            try p.run()
            p.waitUntilExit()
            relionBest = min(relionBest, Date().timeIntervalSince(t0))
        }
        print(String(format: "relion_postprocess     %8.2f s", relionBest))
        print(String(format: "ratio (RELION/angpix)  %8.2f×", relionBest / angpixBest))
    }

    func findExecutable(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        for d in dirs {
            let p = (d as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
