// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix-bench refine: magnification refinement over a generated particle set (default 10,000
// particles of 200² at 1 Å in 3 optics groups: a 2 % scale error, 1.5 % anisotropy at 30°, none)
// with angpix (the library, all cores or --jobs) and with `relion_ctf_refine --fit_aniso --j 2`
// on the same files, in one run: angpix one pass, angpix's default run (passes until converged),
// RELION's one pass. Prints the times, particles per second, the load average before each, the
// ratios (one pass vs one pass; converged vs RELION's one pass) and every result.
//
// The set: a map of Gaussian blobs (both half maps), particles projected from it at their
// group's true magnification with the CTF at the same distorted frequencies, Gaussian noise,
// one stack per micrograph, a RELION 3.1 particle STAR file and a postprocess.star with a flat
// FSC. Generated under --data and removed afterwards (never committed).

import ArgumentParser
import Foundation
import AngpixCore
import AngpixFourier
import AngpixMRC
import AngpixOptics
import AngpixSTAR
import AngpixRefine

struct RefineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refine",
        abstract: "Magnification refinement throughput: angpix (one pass and converged) vs relion_ctf_refine --fit_aniso on the same set.",
        discussion: """
        Example: swift run --package-path Benchmarks -c release angpix-bench refine --particles 1800 --box 128
        """
    )

    @Option(help: "Number of particles (spread over 3 optics groups).") var particles = 10_000
    @Option(help: "Box of the particles and the reference (pixels, at 1 Å).") var box = 200
    @Option(help: "Particles per micrograph (one stack each).") var perMicrograph = 50
    @Option(help: "Signal-to-noise ratio of the images (variance ratio).") var snr = 0.1
    @Option(help: "Working folder.") var data = "bench-data/refine"
    @Option(help: "Threads for angpix (default: all cores).") var jobs: Int?
    @Option(help: "Threads for RELION (--j).") var relionJobs = 2
    @Flag(help: "Skip RELION.") var skipRelion = false
    @Flag(help: "Keep the generated set.") var keep = false

    static let truths: [(String, Matrix2x2)] = [
        ("2 % scale", .scale(1.02)),
        ("1.5 % anisotropy at 30°", RefineBench.anisotropic(percent: 1.5, axisDegrees: 30)),
        ("none", .identity),
    ]

    static func anisotropic(percent: Double, axisDegrees: Double) -> Matrix2x2 {
        let t = axisDegrees * Double.pi / 180, c = cos(t), s = sin(t)
        let a = 1 + percent / 200, b = 1 - percent / 200
        return Matrix2x2(a * c * c + b * s * s, (a - b) * c * s, (a - b) * c * s, a * s * s + b * c * c)
    }

    func run() throws {
        if let jobs { Parallelism.setJobs(jobs) }
        let root = URL(fileURLWithPath: data).standardizedFileURL.path
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/Stacks", withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }

        let t0 = Date()
        try generate(root)
        print(String(format: "generated %d particles of %d² in %.1f s (%@)", particles, box, Date().timeIntervalSince(t0), root))

        // angpix: one pass, as relion_ctf_refine makes one; then the command's default run (up to
        // 8 passes, stopping when a pass moves no group's matrix by a fifth of its standard error).
        let reference = ReferenceSource(half1: root + "/half1.mrc", half2: root + "/half2.mrc", fsc: root + "/postprocess.star")
        func angpix(passes: Int, folder: String) throws -> (seconds: Double, load: String, out: MagnificationRunOutput) {
            var options = MagnificationOptions()
            options.iterations = passes
            options.stream.projectDirectory = root
            let load = Self.loadAverage()
            let t = Date()
            let out = try MagnificationRun.run(input: root + "/particles.star", reference: reference,
                                               outputDirectory: root + "/" + folder, options: options, force: true)
            return (Date().timeIntervalSince(t), load, out)
        }
        let one = try angpix(passes: 1, folder: "angpix-1pass")
        print(String(format: "angpix refine magnification, one pass (%d threads): %.2f s, %.0f particles/s (load %@)",
                     Parallelism.jobs, one.seconds, Double(particles) / one.seconds, one.load))
        printGroups(one.out.summary)
        let full = try angpix(passes: Self.defaultPasses, folder: "angpix")
        print(String(format: "angpix refine magnification, default run (converged after %d passes of at most %d): %.2f s, %.0f particles/s (load %@)",
                     full.out.summary.iterations, Self.defaultPasses, full.seconds, Double(particles) / full.seconds, full.load))
        printGroups(full.out.summary)

        guard !skipRelion, let relion = which("relion_ctf_refine") else {
            print("relion_ctf_refine: not run" + (skipRelion ? "" : " (not installed)"))
            return
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: relion)
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        p.arguments = ["--i", "particles.star", "--f", "postprocess.star", "--m1", "half1.mrc", "--m2", "half2.mrc",
                       "--o", "relion/", "--fit_aniso", "--kmin_mag", "20", "--j", String(relionJobs)]
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = root + "/relion.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: log)
        let relionLoad = Self.loadAverage()
        let t2 = Date()
        try p.run()
        p.waitUntilExit()
        let relionSeconds = Date().timeIntervalSince(t2)
        guard p.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw CoreError.invalidArgument("relion_ctf_refine failed (status \(p.terminationStatus)): \(text.suffix(600))")
        }
        print(String(format: "relion_ctf_refine --fit_aniso --j %d, one pass: %.2f s, %.0f particles/s (load %@)",
                     relionJobs, relionSeconds, Double(particles) / relionSeconds, relionLoad))
        if let file = try? RelionParticleFile(document: STARDocument(path: root + "/relion/particles_ctf_refine.star")) {
            for (g, truth) in zip(file.optics.groups, Self.truths) {
                let m = Matrix2x2(g.magMatrix ?? .identity)
                let d = MagnificationDecomposition(m)
                print(String(format: "  group %d (%@): scale %.5f, anisotropy %.3f %% at %.1f°; matrix %.5f %.5f %.5f %.5f", g.number,
                             truth.0, d.isotropicScale, d.anisotropyPercent, d.majorAxisAngle, m.m00, m.m01, m.m10, m.m11))
            }
        }
        print(String(format: "ratio, one pass vs one pass (RELION time / angpix time): %.2f×", relionSeconds / one.seconds))
        print(String(format: "ratio, angpix converged (%d passes) vs RELION one pass: %.2f×", full.out.summary.iterations,
                     relionSeconds / full.seconds))
    }

    /// angpix refine magnification's default --iterations.
    static let defaultPasses = 8

    /// The 1-, 5- and 15-minute load averages (/proc/loadavg), or "unknown".
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    private func printGroups(_ summary: MagnificationSummary) {
        for (g, truth) in zip(summary.groups, Self.truths) {
            print(String(format: "  group %d (%@): scale %.5f, anisotropy %.3f %% at %.1f°", g.opticsGroup, truth.0,
                         g.scale, g.anisotropyPercent, g.anisotropyAxisDegrees))
        }
    }

    /// Writes the half maps, the postprocess.star, the stacks and particles.star under `root`.
    func generate(_ root: String) throws {
        let policy = OutputPolicy(overwrite: true)
        // The map: blobs in a sphere of 0.3 box, splatted within 4σ.
        var rng = SplitMix64(seed: 2026)
        let n = box, h = n / 2, sigma = 1.5, reach = 6
        var voxels = [Float](repeating: 0, count: n * n * n)
        let radius = 0.3 * Double(n)
        for _ in 0..<(n * 2) {
            var c: (Double, Double, Double)
            repeat { c = (rng.uniform(-radius, radius), rng.uniform(-radius, radius), rng.uniform(-radius, radius)) }
            while c.0 * c.0 + c.1 * c.1 + c.2 * c.2 > radius * radius
            let a = rng.uniform(0.5, 1)
            let cx = Int(c.0.rounded()) + h, cy = Int(c.1.rounded()) + h, cz = Int(c.2.rounded()) + h
            for z in (cz - reach)...(cz + reach) { for y in (cy - reach)...(cy + reach) { for x in (cx - reach)...(cx + reach) {
                let dx = Double(x - h) - c.0, dy = Double(y - h) - c.1, dz = Double(z - h) - c.2
                voxels[(z * n + y) * n + x] += Float(a * exp(-(dx * dx + dy * dy + dz * dz) / (2 * sigma * sigma)))
            } } }
        }
        let map = MRCMap(nx: n, ny: n, nz: n, pixelSize: 1.0, data: voxels)
        try MRCFile.write(map, to: root + "/half1.mrc", policy: policy)
        try MRCFile.write(map, to: root + "/half2.mrc", policy: policy)
        var pp = "data_general\n\n_rlnFinalResolution 3.0\n_rlnUnfilteredMapHalf1 half1.mrc\n_rlnUnfilteredMapHalf2 half2.mrc\n\n"
        pp += "data_fsc\n\nloop_\n_rlnSpectralIndex #1\n_rlnResolution #2\n_rlnAngstromResolution #3\n_rlnFourierShellCorrelationCorrected #4\n"
        for i in 0...(n / 2) {
            let res = i == 0 ? 999 : Double(n) / Double(i)
            pp += "\(i) \(Double(i) / Double(n)) \(res) \(Double(i) <= 0.7 * Double(n / 2) ? 1.0 : 0.0)\n"
        }
        try writeFileAtomically(pp, to: root + "/postprocess.star", policy: policy)
        let projector = try ReferenceProjector(map: map)

        // Micrographs: each in one group, one stack.
        let micrographs = (particles + perMicrograph - 1) / perMicrograph
        let plan = try RealFFTPlan(shape: [n, n])
        var rows = [String](repeating: "", count: micrographs)
        let groupCount = Self.truths.count
        // The noise level from one clean image.
        let noiseSigma: Double = {
            let s = projector.project(pose: ParticlePose(rotDegrees: 10, tiltDegrees: 60, psiDegrees: 30), boxSize: n, pixelSize: 1).values
            var e = 0.0
            for v in s { e += Double(v.normSquared) }
            // Parseval on the half spectrum (≈ half the energy) of the FFT/s² normalisation.
            let rms = (2 * e).squareRoot()
            return rms / snr.squareRoot() * 0.3   // the CTF halves the signal's variance; blobs fill part of the box
        }()
        let failure = FailureBox()
        rows.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            parallelForEach(micrographs) { m in
                do {
                    var rng = SplitMix64(seed: UInt64(1000 + m))
                    let g = m % groupCount
                    let truth = Self.truths[g].1
                    let count = min(perMicrograph, particles - m * perMicrograph)
                    let stack = "Stacks/mic\(m + 1).mrcs"
                    let writer = try MRCStackWriter(path: root + "/" + stack, nx: n, ny: n, pixelSize: 1.0, policy: policy)
                    let defocus = rng.uniform(8000, 20000)
                    var text = ""
                    let hx = n / 2 + 1, extent = Double(n)
                    for k in 0..<count {
                        let pose = ParticlePose(rotDegrees: rng.uniform(-180, 180), tiltDegrees: acos(rng.uniform(-1, 1)) * 180 / Double.pi,
                                                psiDegrees: rng.uniform(-180, 180),
                                                originXAngstrom: rng.uniform(-4, 4), originYAngstrom: rng.uniform(-4, 4))
                        let du = defocus + rng.uniform(-300, 300), dv = du - rng.uniform(0, 400), da = rng.uniform(-90, 90)
                        let ctf = try CTF(CTFParameters(defocusU: du, defocusV: dv, defocusAngle: da, magMatrix: truth))
                        var spectrum = projector.project(pose: pose, boxSize: n, pixelSize: 1.0, magMatrix: truth).values
                        for row in 0..<n {
                            let ky = Double(fourierFrequency(row, n)) / extent
                            for i in 0..<hx {
                                spectrum[row * hx + i] = spectrum[row * hx + i] * Float(ctf.value(x: Double(i) / extent, y: ky) * Double(n * n))
                            }
                        }
                        var image = plan.inverse(spectrum)
                        for p in image.indices { image[p] += Float(noiseSigma * rng.gaussian()) }
                        try writer.append(image)
                        text += "\(k + 1)@\(stack) mic\(m + 1).mrc \(g + 1) \(pose.rotDegrees) \(pose.tiltDegrees) \(pose.psiDegrees) "
                        text += "\(pose.originXAngstrom) \(pose.originYAngstrom) \((k + m) % 2 + 1) \(du) \(dv) \(da)\n"
                    }
                    try writer.commit()
                    out[m] = text
                } catch {
                    failure.set(error)
                }
            }
        }
        if let e = failure.error { throw e }
        var star = "data_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n_rlnAmplitudeContrast #3\n"
        star += "_rlnSphericalAberration #4\n_rlnVoltage #5\n_rlnImagePixelSize #6\n_rlnImageSize #7\n_rlnImageDimensionality #8\n"
        for g in 0..<groupCount { star += "\(g + 1) group\(g + 1) 0.1 2.7 300 1.000000 \(n) 2\n" }
        star += "\ndata_particles\n\nloop_\n"
        let labels = ["rlnImageName", "rlnMicrographName", "rlnOpticsGroup", "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi",
                      "rlnOriginXAngst", "rlnOriginYAngst", "rlnRandomSubset", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"]
        for (i, l) in labels.enumerated() { star += "_\(l) #\(i + 1)\n" }
        star += rows.joined()
        try writeFileAtomically(star, to: root + "/particles.star", policy: policy)
    }

    private func which(_ tool: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        return paths.map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The first error of parallel work.
final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}
