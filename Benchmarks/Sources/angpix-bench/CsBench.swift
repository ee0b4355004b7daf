// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix-bench cs`: `star from-cs` on a generated 1,000,000-particle cryoSPARC refinement (a main
// .cs with alignments3D at 2.12 Å and a passthrough .cs with blob, ctf and location fields at
// 1.06 Å, about 390 MB together, written into ./bench-data by this program with a fixed seed), timed
// in child processes with their peak memory, and pyem's csparc2star.py on the same files when a
// pyem source checkout is given (--pyem DIR; `pip install pyem` installs an unrelated package).
// Then both converters run on a 20,000-particle set with two exposure groups (one with beam tilt
// and anisotropic magnification) and every column they share is compared, particle by particle.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixSTAR
import AngpixCryoSPARC

struct CsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cs",
        abstract: "Convert a 1M-particle cryoSPARC refinement (.cs + passthrough) to STAR; compare with pyem's csparc2star.py.",
        discussion: "Example: swift run --package-path Benchmarks -c release angpix-bench cs --pyem ../pyem"
    )

    @Option(help: "Number of particles of the timed set.") var particles = 1_000_000
    @Option(help: "Folder for generated inputs and outputs.") var data = "bench-data"
    @Option(help: "A source checkout of pyem (github.com/asarnow/pyem), to run its csparc2star.py.") var pyem: String?
    @Option(help: "Runs of the angpix conversion (the best is reported, with the median).") var runs = 3
    @Option(help: "Run the conversion in this process (used internally): main .cs.") var stage: String?
    @Option(help: "Passthrough of the stage (used internally).") var passthrough: String?

    func run() throws {
        if let stage, let passthrough { try runStage(stage, passthrough); return }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let (main, pass) = try generate(particles, name: "bench-cs-\(particles)")
        let size = Double(fileSize(main) + fileSize(pass)) / 1e6
        print(String(format: "input: %@ + %@ (%.0f MB, %d particles)", main, pass, size, particles))
        let me = CommandLine.arguments[0]
        var times: [Double] = [], peak = 0.0
        for _ in 0..<max(1, runs) {
            let r = try runTimed([me, "cs", "--stage", main, "--passthrough", pass, "--data", data])
            guard r.status == 0 else { print("angpix failed: \(r.stderr)"); return }
            let parts = r.stdout.split(whereSeparator: \.isWhitespace).suffix(2).compactMap { Double($0) }
            guard parts.count == 2 else { print("unexpected output \(r.stdout)"); return }
            times.append(parts[0]); peak = max(peak, parts[1])
        }
        let best = times.min()!, median = times.sorted()[times.count / 2]
        print(String(format: "angpix star from-cs  %7.3f s  %7.0f MB/s of input  peak %6.0f MB (%.2f× input)  median of %d %.3f s",
                     best, size / best, peak, peak / size, times.count, median))
        guard let pyem else { print("anchor pyem csparc2star.py: not run (give --pyem DIR, a source checkout)"); return }
        let script = (pyem as NSString).appendingPathComponent("pyem/cli/csparc2star.py")
        let out = "\(data)/pyem-out.star"
        let r = try runTimed(["/usr/bin/time", "-v", "env", "PYTHONPATH=\(pyem)", "python3", script, main, pass, out])
        try? FileManager.default.removeItem(atPath: out)
        if r.status != 0 {
            print("anchor pyem csparc2star.py: failed (\(r.stderr.split(separator: "\n").filter { $0.contains("Error") }.last ?? "status \(r.status)"))")
        } else {
            let peakKB = r.stderr.split(separator: "\n").first { $0.contains("Maximum resident set size") }
                .flatMap { Double($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) } ?? 0
            print(String(format: "anchor pyem csparc2star.py  %7.3f s  peak %6.0f MB", r.seconds, peakKB / 1024))
            print(String(format: "ratio: angpix %.1f× faster, %.2f× the memory", r.seconds / best, peak / max(peakKB / 1024, 1)))
        }
        try compare(pyem: pyem, script: script)
    }

    // MARK: the comparison

    func compare(pyem: String, script: String) throws {
        let n = 20_000
        let (main, pass) = try generate(n, name: "compare-cs-\(n)", aberrations: true)
        let ours = "\(data)/compare-angpix.star", theirs = "\(data)/compare-pyem.star"
        for f in [ours, theirs] { try? FileManager.default.removeItem(atPath: f) }
        let set = try CryoSPARCParticles(path: main, passthroughs: [pass])
        _ = try CryoSPARCToRelion.convert(set, output: ours, policy: OutputPolicy(overwrite: true, inputs: [main, pass]))
        let r = try runTimed(["env", "PYTHONPATH=\(pyem)", "python3", script, main, pass, theirs])
        guard r.status == 0 else { print("pyem comparison: pyem failed: \(r.stderr.suffix(300))"); return }
        let a = try RelionParticleFile(document: STARDocument(path: ours), file: ours)
        let b = try RelionParticleFile(document: STARDocument(path: theirs), file: theirs)
        print("\ncomparison on \(n) particles (2 exposure groups; group 2 with beam tilt and anisomag; alignments at 2.12 Å, images at 1.06 Å):")
        print("  particle columns only in angpix: \(a.particles.labels.filter { !b.particles.has($0) }.joined(separator: ", "))")
        print("  particle columns only in pyem:   \(b.particles.labels.filter { !a.particles.has($0) }.joined(separator: ", "))")
        let opticsA = a.optics.groups.map { "\($0.number) \($0.name) \($0.imagePixelSize) Å box \($0.imageSize) magmat \($0.magMatrix.map { "\($0)" } ?? "-") beamtilt \($0.values["rlnBeamTiltX"] ?? "-"),\($0.values["rlnBeamTiltY"] ?? "-")" }
        let opticsB = b.optics.groups.map { "\($0.number) \($0.name) \($0.imagePixelSize) Å box \($0.imageSize) magmat \($0.magMatrix.map { "\($0)" } ?? "-") beamtilt \($0.values["rlnBeamTiltX"] ?? "-"),\($0.values["rlnBeamTiltY"] ?? "-")" }
        print("  optics groups angpix: \(opticsA.joined(separator: "; "))")
        print("  optics groups pyem:   \(opticsB.joined(separator: "; "))")
        // Particles matched by rlnImageName (pyem re-sorts the records).
        let namesA = try a.particles.strings("rlnImageName"), namesB = try b.particles.strings("rlnImageName")
        var rowB: [String: Int] = [:]
        for (i, s) in namesB.enumerated() { rowB[s] = i }
        let matched = namesA.compactMap { rowB[$0] }
        print("  particles matched by rlnImageName: \(matched.count) of \(namesA.count) (pyem wrote \(namesB.count))")
        guard matched.count == namesA.count else { return }
        for label in a.particles.labels where b.particles.has(label) && label != "rlnImageName" {
            if let x = try? a.particles.doubles(label), let y = try? b.particles.doubles(label) {
                var worst = 0.0, at = 0
                for i in 0..<x.count { let d = abs(x[i] - y[matched[i]]); if d > worst { worst = d; at = i } }
                print(String(format: "  %@ largest difference %.3g (angpix %.6g, pyem %.6g at %@)", pad(label, 22) as NSString, worst,
                             x[at], y[matched[at]], namesA[at] as NSString))
            } else {
                let x = try a.particles.strings(label), y = try b.particles.strings(label)
                let differ = (0..<x.count).filter { x[$0] != y[matched[$0]] }
                print("  \(pad(label, 22)) \(differ.count) differ\(differ.first.map { " (e.g. angpix \(x[$0]), pyem \(y[matched[$0]]))" } ?? "")")
            }
        }
        // Angles: compare the rotations, not the numbers (equal rotations can have other angles).
        if a.particles.has("rlnAngleRot") && b.particles.has("rlnAngleRot") {
            let ra = try a.particles.doubles("rlnAngleRot"), ta = try a.particles.doubles("rlnAngleTilt"), pa = try a.particles.doubles("rlnAnglePsi")
            let rb = try b.particles.doubles("rlnAngleRot"), tb = try b.particles.doubles("rlnAngleTilt"), pb = try b.particles.doubles("rlnAnglePsi")
            var worst = 0.0
            for i in 0..<ra.count {
                let j = matched[i]
                let m = CryoSPARCConventions.relionMatrix(rot: ra[i], tilt: ta[i], psi: pa[i])
                let q = CryoSPARCConventions.relionMatrix(rot: rb[j], tilt: tb[j], psi: pb[j])
                worst = max(worst, zip(m.m, q.m).map { abs($0 - $1) }.max()!)
            }
            print(String(format: "  rotation matrices        largest element difference %.3g", worst))
        }
    }

    // MARK: the timed stage (child process)

    func runStage(_ main: String, _ pass: String) throws {
        let start = Date()
        let out = "\(data)/angpix-cs-out.star"
        let set = try CryoSPARCParticles(path: main, passthroughs: [pass])
        let result = try CryoSPARCToRelion.convert(set, output: out, policy: OutputPolicy(overwrite: true, inputs: [main, pass]))
        precondition(result.particles == set.count)
        let seconds = Date().timeIntervalSince(start)
        try? FileManager.default.removeItem(atPath: out)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "%.4f %.1f", seconds, Double(usage.ru_maxrss) / 1024))
    }

    // MARK: the generated files

    /// (name, numpy type, shape, bytes)
    typealias Field = (name: String, type: String, shape: [Int], size: Int)

    static let mainFields: [Field] = [
        ("uid", "<u8", [], 8), ("alignments3D/split", "<u4", [], 4), ("alignments3D/shift", "<f4", [2], 8),
        ("alignments3D/pose", "<f4", [3], 12), ("alignments3D/psize_A", "<f4", [], 4), ("alignments3D/error", "<f4", [], 4),
        ("alignments3D/error_min", "<f4", [], 4), ("alignments3D/resid_pow", "<f4", [], 4), ("alignments3D/slice_pow", "<f4", [], 4),
        ("alignments3D/image_pow", "<f4", [], 4), ("alignments3D/cross_cor", "<f4", [], 4), ("alignments3D/alpha", "<f4", [], 4),
        ("alignments3D/alpha_min", "<f4", [], 4), ("alignments3D/weight", "<f4", [], 4), ("alignments3D/pose_ess", "<f4", [], 4),
        ("alignments3D/shift_ess", "<f4", [], 4), ("alignments3D/class_posterior", "<f4", [], 4), ("alignments3D/class", "<u4", [], 4),
        ("alignments3D/class_ess", "<f4", [], 4),
    ]
    static let passFields: [Field] = [
        ("uid", "<u8", [], 8), ("blob/path", "|S112", [], 112), ("blob/idx", "<u4", [], 4), ("blob/shape", "<u4", [2], 8),
        ("blob/psize_A", "<f4", [], 4), ("blob/sign", "<f4", [], 4), ("blob/import_sig", "<u8", [], 8),
        ("ctf/type", "|S8", [], 8), ("ctf/exp_group_id", "<u4", [], 4), ("ctf/accel_kv", "<f4", [], 4), ("ctf/cs_mm", "<f4", [], 4),
        ("ctf/amp_contrast", "<f4", [], 4), ("ctf/df1_A", "<f4", [], 4), ("ctf/df2_A", "<f4", [], 4), ("ctf/df_angle_rad", "<f4", [], 4),
        ("ctf/phase_shift_rad", "<f4", [], 4), ("ctf/scale", "<f4", [], 4), ("ctf/scale_const", "<f4", [], 4),
        ("ctf/shift_A", "<f4", [2], 8), ("ctf/tilt_A", "<f4", [2], 8), ("ctf/trefoil_A", "<f4", [2], 8), ("ctf/tetra_A", "<f4", [4], 16),
        ("ctf/anisomag", "<f4", [4], 16), ("ctf/bfactor", "<f4", [], 4),
        ("location/micrograph_uid", "<u8", [], 8), ("location/exp_group_id", "<u4", [], 4), ("location/micrograph_path", "|S112", [], 112),
        ("location/micrograph_shape", "<u4", [2], 8), ("location/micrograph_psize_A", "<f4", [], 4),
        ("location/center_x_frac", "<f4", [], 4), ("location/center_y_frac", "<f4", [], 4),
    ]

    /// Writes `name`.cs (the refinement's output, records in uid order) and `name`_passthrough.cs
    /// (its input's fields, in extraction order) unless they exist. 200 particles per micrograph.
    func generate(_ n: Int, name: String, aberrations: Bool = false) throws -> (String, String) {
        let main = "\(data)/\(name).cs", pass = "\(data)/\(name)_passthrough.cs"
        if FileManager.default.fileExists(atPath: main) && FileManager.default.fileExists(atPath: pass) { return (main, pass) }
        print("generating \(main) and \(pass) (\(n) particles, seed 1) ...")
        let start = Date()
        var rng = SplitMix64(seed: 1)
        try writeNPY(pass, CsBench.passFields, n) { i, put in
            let mic = i / 200
            let group = aberrations ? 1 + mic % 2 : 1 + mic % 9
            let stack = "J30/extract/FoilHole_\(29_000_000 + mic)_Data_29011234_29011236_20260101_120000_patch_aligned_doseweighted_particles.mrc"
            let micrograph = "J14/motioncorrected/FoilHole_\(29_000_000 + mic)_Data_29011234_29011236_20260101_120000_patch_aligned_doseweighted.mrc"
            let df = rng.uniform(9000, 25000)
            let tilted = aberrations && group == 2
            put.u64(UInt64(i) &* 2_654_435_761 &+ 17); put.text(stack, 112); put.u32(UInt32(i % 200)); put.u32(256); put.u32(256)
            put.f32(1.06); put.f32(-1); put.u64(42)
            put.text("imported", 8); put.u32(UInt32(group)); put.f32(300); put.f32(2.7); put.f32(0.1)
            put.f32(df); put.f32(df - rng.uniform(0, 800)); put.f32(rng.uniform(-Double.pi / 2, Double.pi / 2)); put.f32(0); put.f32(1); put.f32(0)
            put.f32(0); put.f32(0)
            put.f32(tilted ? 2700 : 0); put.f32(tilted ? -1350 : 0)
            put.f32(0); put.f32(0); put.f32(0); put.f32(0); put.f32(0); put.f32(0)
            put.f32(tilted ? 0.006 : 0); put.f32(tilted ? -0.002 : 0); put.f32(tilted ? 0.001 : 0); put.f32(tilted ? -0.004 : 0)
            put.f32(0)
            put.u64(UInt64(mic) &+ 1_000_003); put.u32(UInt32(group)); put.text(micrograph, 112); put.u32(4092); put.u32(5760); put.f32(1.06)
            put.f32(rng.uniform(0.02, 0.98)); put.f32(rng.uniform(0.02, 0.98))
        }
        try writeNPY(main, CsBench.mainFields, n) { i, put in
            put.u64(UInt64(i) &* 2_654_435_761 &+ 17); put.u32(UInt32(i % 2))
            put.f32(rng.uniform(-6, 6)); put.f32(rng.uniform(-6, 6))
            // A uniformly random rotation vector direction, angle in (0, π).
            let z = rng.uniform(-1, 1), phi = rng.uniform(0, 2 * Double.pi), angle = rng.uniform(0.01, 3.1), s = (1 - z * z).squareRoot()
            put.f32(angle * s * cos(phi)); put.f32(angle * s * sin(phi)); put.f32(angle * z)
            put.f32(2.12)
            for _ in 0..<11 { put.f32(rng.uniform(0, 1)) }
            put.f32(1); put.u32(0); put.f32(1)
        }
        print(String(format: "  written in %.1f s", Date().timeIntervalSince(start)))
        return (main, pass)
    }

    /// Appends little-endian scalars to a record.
    struct Record {
        var bytes: [UInt8] = []
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func f32(_ v: Double) { u32(Float(v).bitPattern) }
        mutating func text(_ s: String, _ width: Int) {
            let b = Array(s.utf8)
            precondition(b.count <= width, "\(s) is longer than |S\(width)")
            bytes.append(contentsOf: b + [UInt8](repeating: 0, count: width - b.count))
        }
    }

    func writeNPY(_ path: String, _ fields: [Field], _ n: Int, _ record: (Int, inout Record) -> Void) throws {
        let descr = "[" + fields.map { f in
            f.shape.isEmpty ? "('\(f.name)', '\(f.type)')" : "('\(f.name)', '\(f.type)', (\(f.shape.map(String.init).joined(separator: ", "))\(f.shape.count == 1 ? "," : "")))"
        }.joined(separator: ", ") + "]"
        var header = "{'descr': \(descr), 'fortran_order': False, 'shape': (\(n),), }"
        let pre = 12
        header += String(repeating: " ", count: (64 - (pre + header.utf8.count + 1) % 64) % 64) + "\n"
        let h = UInt32(header.utf8.count)
        var out = [0x93] + Array("NUMPY".utf8) + [2, 0]
        withUnsafeBytes(of: h.littleEndian) { out.append(contentsOf: $0) }
        out += Array(header.utf8)
        let itemSize = fields.map(\.size).reduce(0, +)
        let writer = try AtomicFileWriter(destination: path, policy: OutputPolicy(overwrite: true, inputs: []))
        try out.withUnsafeBytes { try writer.write($0) }
        var chunk: [UInt8] = []
        chunk.reserveCapacity(itemSize * 4096)
        for i in 0..<n {
            var r = Record()
            r.bytes.reserveCapacity(itemSize)
            record(i, &r)
            precondition(r.bytes.count == itemSize, "record of \(r.bytes.count) bytes, dtype \(itemSize)")
            chunk += r.bytes
            if chunk.count >= itemSize * 4096 { try chunk.withUnsafeBytes { try writer.write($0) }; chunk.removeAll(keepingCapacity: true) }
        }
        try chunk.withUnsafeBytes { try writer.write($0) }
        try writer.commit()
    }

    // MARK: helpers

    func fileSize(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0 }

    struct Timed { var status: Int32; var stdout: String; var stderr: String; var seconds: Double }

    func runTimed(_ command: [String]) throws -> Timed {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0].hasPrefix("/") ? command[0] : which(command[0]) ?? command[0])
        process.arguments = Array(command.dropFirst())
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let start = Date()
        try process.run()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Timed(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }

    func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

    func which(_ tool: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        return dirs.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
