// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix-bench map`: throughput of `angpix map rescale` (the same library pipeline: memory-mapped
// read, RELION-exact Fourier rescale on all cores, atomic write) on a generated 256³ map and a
// generated stack of 2000 images of 256² rescaled to 200², side by side in the same run with
// relion_image_handler --rescale_angpix and with a numpy Fourier crop (python3), printing times
// and ratios. Inputs are generated once into ./bench-data (gitignored) and reused.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC
import AngpixFourier

struct MapBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "map rescale on a 256³ map and a 2000 × 256² stack vs relion_image_handler and numpy.",
        discussion: "Example: swift run -c release angpix-bench map --images 2000"
    )

    @Option(help: "Side of the generated map.") var mapSize = 256
    @Option(help: "Images in the generated stack.") var images = 2000
    @Option(help: "Side of the generated images.") var imageSize = 256
    @Option(help: "Side after rescaling (the pixel size goes from 1 Å to imageSize/newSize Å).") var newSize = 200
    @Option(help: "Folder for generated inputs and outputs.") var data = "bench-data"
    @Option(help: "Repetitions of each timing (the best is kept).") var repeats = 1
    @Flag(help: "Skip relion_image_handler.") var skipRelion = false
    @Flag(help: "Skip the numpy Fourier crop.") var skipNumpy = false

    func run() throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let angpix = Double(imageSize) / Double(newSize)
        let mapAngpix = Double(mapSize) / Double(newSize * mapSize / imageSize)
        let mapPath = (data as NSString).appendingPathComponent("bench-map-\(mapSize).mrc")
        let stackPath = (data as NSString).appendingPathComponent("bench-stack-\(images)x\(imageSize).mrcs")
        try generate(mapPath, nx: mapSize, ny: mapSize, nz: mapSize, isStack: false)
        try generate(stackPath, nx: imageSize, ny: imageSize, nz: images, isStack: true)
        let out = { (name: String) in (data as NSString).appendingPathComponent(name) }

        print("map rescale: \(mapSize)³ map 1 Å → \(formatSignificant(mapAngpix, digits: 4)) Å; \(images) images of \(imageSize)² → \(newSize)² (\(formatSignificant(angpix, digits: 4)) Å)")
        print("cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        var rows: [(String, Double?, Double?)] = []

        let jobs = Parallelism.jobs
        Parallelism.setJobs(1)
        let a1 = (try best { try rescaleMap(mapPath, out("out-angpix.mrc"), mapAngpix) },
                  try best { try rescaleStack(stackPath, out("out-angpix.mrcs"), angpix) })
        Parallelism.setJobs(jobs)
        let an = (try best { try rescaleMap(mapPath, out("out-angpix.mrc"), mapAngpix) },
                  try best { try rescaleStack(stackPath, out("out-angpix.mrcs"), angpix) })
        rows.append(("angpix, 1 thread", a1.0, a1.1))
        rows.append(("angpix, \(jobs) threads", an.0, an.1))

        if !skipRelion, let relion = which("relion_image_handler") {
            let m = try best { try runTool(relion, ["--i", mapPath, "--o", out("out-relion.mrc"), "--rescale_angpix", "\(mapAngpix)"]) }
            let s = try best { try runTool(relion, ["--i", stackPath, "--o", out("out-relion.mrcs"), "--rescale_angpix", "\(angpix)"]) }
            rows.append(("relion_image_handler 3.1 (1 thread)", m, s))
            if let d = try? difference(out("out-angpix.mrc"), out("out-relion.mrc")) {
                print(String(format: "relative RMS difference to RELION: map %.2e", d))
            }
        } else {
            print("relion_image_handler: skipped (not installed or --skip-relion)")
        }

        if !skipNumpy, let python = which("python3") {
            let script = out("numpy_fourier_crop.py")
            try numpyScript.write(toFile: script, atomically: true, encoding: .utf8)
            let m = try? best { try runTool(python, [script, mapPath, out("out-numpy.mrc"), "\(mapAngpix)"]) }
            let s = try? best { try runTool(python, [script, stackPath, out("out-numpy.mrcs"), "\(angpix)"]) }
            if let m, let s {
                rows.append(("numpy Fourier crop (1 thread)", m, s))
            } else {
                print("numpy: failed (is numpy installed?)")
            }
        }

        let base = rows[1]
        print("")
        print("tool".padding(toLength: 38, withPad: " ", startingAt: 0) + "   map (s)  ratio   stack (s)  ratio  images/s")
        for (name, m, s) in rows {
            func cell(_ v: Double?, _ b: Double?) -> String {
                guard let v else { return "        -       -" }
                return String(format: "%9.3f  %5.2f×", v, b.map { v / $0 } ?? 0)
            }
            let rate = s.map { String(format: "%9.0f", Double(images) / $0) } ?? ""
            print(name.padding(toLength: 38, withPad: " ", startingAt: 0) + cell(m, base.1) + "  " + cell(s, base.2) + " " + rate)
        }
        print("(ratio = time / time of angpix with \(jobs) threads; > 1 means angpix is faster)")
    }

    /// The best of `repeats` wall-clock timings of `body`.
    func best(_ body: () throws -> Void) throws -> Double {
        var t = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = Date()
            try body()
            t = min(t, Date().timeIntervalSince(start))
        }
        return t
    }

    func rescaleMap(_ input: String, _ output: String, _ angpix: Double) throws {
        let map = try MRCFile.readMap(path: input)
        let plan = try RescalePlan(shape: [map.nz, map.ny, map.nx], pixelSize: map.pixelSize, newPixelSize: angpix, box: nil)
        let r = try Rescaler(plan: plan, threads: Parallelism.jobs)
        let out = MRCMap(nx: plan.outputShape[2], ny: plan.outputShape[1], nz: plan.outputShape[0],
                         pixelSize: plan.outputPixelSize, data: r.apply(map.data))
        try MRCFile.write(out, to: output, policy: OutputPolicy(overwrite: true))
    }

    func rescaleStack(_ input: String, _ output: String, _ angpix: Double) throws {
        let reader = try MRCStackReader(path: input)
        let plan = try RescalePlan(shape: [reader.ny, reader.nx], pixelSize: reader.pixelSize, newPixelSize: angpix, box: nil)
        let writer = try MRCStackWriter(path: output, nx: plan.outputShape[1], ny: plan.outputShape[0],
                                        pixelSize: plan.outputPixelSize, policy: OutputPolicy(overwrite: true))
        try AngpixFourier.rescaleStack(plan: plan, count: reader.count, read: { range, buffer in
            try reader.readImages(range, into: buffer)
            reader.release(range)
        }, write: { try writer.append($0) })
        try writer.commit()
    }

    /// Writes a smooth random map or stack at 1 Å/pixel unless it already exists with the right size.
    func generate(_ path: String, nx: Int, ny: Int, nz: Int, isStack: Bool) throws {
        if let h = try? MRCFile.readHeader(path: path), h.nx == nx, h.ny == ny, h.nz == nz { return }
        print("generating \(path)")
        let section = nx * ny
        let writer = try MRCStackWriter(path: path, nx: nx, ny: ny, pixelSize: 1.0, policy: OutputPolicy(overwrite: true))
        var state: UInt64 = 0x1234_5678
        var img = [Float](repeating: 0, count: section)
        for z in 0..<nz {
            for y in 0..<ny {
                for x in 0..<nx {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let noise = Float(Double(state >> 40) / Double(1 << 24)) - 0.5
                    let dx = Float(x - nx / 2), dy = Float(y - ny / 2), dz = Float(isStack ? 0 : z - nz / 2)
                    let blob = exp(-(dx * dx + dy * dy + dz * dz) / Float(nx * nx / 16))
                    img[y * nx + x] = blob + 0.3 * noise
                }
            }
            try writer.append(img)
        }
        try writer.commit()
        if !isStack {
            // A volume: ISPG 1 and MZ = NZ.
            let tmp = path + ".tmp"
            try MRCFile.rewriteHeader(input: path, output: tmp, policy: OutputPolicy(overwrite: true)) { h in
                h.ispg = 1
                h.setPixelSize(1.0)
            }
            _ = rename(tmp, path)
        }
    }

    func difference(_ a: String, _ b: String) throws -> Double {
        let x = try MRCFile.readMap(path: a).data, y = try MRCFile.readMap(path: b).data
        guard x.count == y.count else { return .nan }
        var d = 0.0, n = 0.0
        for i in 0..<x.count { d += Double(x[i] - y[i]) * Double(x[i] - y[i]); n += Double(y[i]) * Double(y[i]) }
        return (d / n).squareRoot()
    }
}

/// The full path of an executable on PATH.
private func which(_ tool: String) -> String? {
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
    for d in dirs {
        let p = (d as NSString).appendingPathComponent(tool)
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// Runs a program to completion, output discarded; throws if it fails.
private func runTool(_ path: String, _ args: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.environment = ProcessInfo.processInfo.environment.merging(["OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"]) { $1 }
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw CoreError.invalidArgument("\(path) \(args.joined(separator: " ")) failed with status \(p.terminationStatus)")
    }
}

/// The numpy reference: a plain Fourier crop of each image (or the map) keeping the mean, like
/// RELION's for shrinking (cube of frequencies), with I/O through a memory map and a float32 file.
private let numpyScript = """
import sys, numpy as np
src, dst, angpix = sys.argv[1], sys.argv[2], float(sys.argv[3])
hdr = np.fromfile(src, dtype=np.uint8, count=1024)
nx, ny, nz = (int(v) for v in hdr[:12].view('<i4'))
old = float(hdr[40:44].view('<f4')[0]) / int(hdr[28:32].view('<i4')[0])
stack = src.endswith('.mrcs')
n = nx
m = int(round(n * old / angpix)); m -= m % 2
data = np.memmap(src, dtype='<f4', mode='r', offset=1024 + int(hdr[92:96].view('<i4')[0]), shape=(nz, ny, nx))
def crop(f, axes):
    # keep frequencies -(m/2-1) .. m/2 on full axes and 0 .. m/2 on the half axis
    idx = np.r_[0:m//2 + 1, n - m//2 + 1:n]
    for a in axes:
        f = np.take(f, idx, axis=a)
    return f[..., :m//2 + 1]
with open(dst, 'wb') as fh:
    h = hdr.copy(); h[0:12] = np.array([m, m, nz if stack else m], '<i4').view(np.uint8)
    h[28:40] = np.array([m, m, 1 if stack else m], '<i4').view(np.uint8)
    reached = old * n / m
    h[40:52] = np.array([m * reached, m * reached, reached if stack else m * reached], '<f4').view(np.uint8)
    h[92:96] = 0
    fh.write(h.tobytes())
    if stack:
        for s in range(0, nz, 100):
            block = np.asarray(data[s:s + 100], dtype=np.float32)
            f = np.fft.rfft2(block)
            g = crop(f, (1,))
            r = np.fft.irfft2(g, s=(m, m)) * (m * m / (n * n))
            fh.write(r.astype('<f4').tobytes())
    else:
        f = np.fft.rfftn(np.asarray(data, dtype=np.float32))
        g = crop(f, (0, 1))
        r = np.fft.irfftn(g, s=(m, m, m)) * (m ** 3 / n ** 3)
        fh.write(r.astype('<f4').tobytes())
"""
