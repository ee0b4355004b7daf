// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix-bench calibrate: `calibrate model` on a 256³ map with a 10,000-atom model (1orc tiled on a
// lattice), with and without --refine-rotation, and `calibrate map` on two 256³ maps, side by side
// with EMDA's map-to-map magnification refinement (what `emda magref` runs) on the same maps in
// the same run when EMDA is installed for python3 (see README, Benchmarks; otherwise, or when
// EMDA fails at run time, the run says why and goes on).
// The maps are simulated at 1.0 Å with a header stating 1.03 Å; the recovered pixel size is printed.

import AngpixCore
import ArgumentParser
import AngpixCalibration
import Foundation
import AngpixMRC
import AngpixModels

nonisolated(unsafe) private var lastCPU = 0.0

struct CalibrateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Times calibrate model (256³ map, 10,000 atoms) and calibrate map, against EMDA's magref.",
        discussion: "Example: swift run -c release angpix-bench calibrate"
    )

    @Option(help: "Box size of the maps (voxels).") var size = 256
    @Option(help: "Atoms in the tiled model.") var atoms = 10_000
    @Option(help: "Folder for generated inputs.") var data = "bench-data/calibrate"
    @Flag(help: "Do not run EMDA.") var noEmda = false

    @Option(help: "Run only \"model\" or \"map\".") var only: String?

    /// Process CPU seconds (all threads), to tell a busy machine from slow code.
    func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Wall seconds of `body`; prints the CPU seconds too.
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let cpu = cpuSeconds()
        try body()
        lastCPU = cpuSeconds() - cpu
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        // The model: copies of 1orc on a 3×3×3 lattice, 34 Å apart, cut to `atoms` atoms.
        let source = packageData("1orc.pdb")
        let base = try ModelReader.read(path: source).model.atoms
        let c = AtomicModel(path: source, records: base).centroid
        var tiled: [Atom] = []
        outer: for k in 0..<4 { for j in 0..<4 { for i in 0..<4 {
            for var a in base {
                a.x += Double(i) * 34 - c.x; a.y += Double(j) * 34 - c.y; a.z += Double(k) * 34 - c.z
                tiled.append(a)
                if tiled.count == atoms { break outer }
            }
        } } }
        let truePixel = 1.0, headerPixel = 1.03
        var centre = SIMD3<Double>.zero
        for a in tiled { centre += SIMD3(a.x, a.y, a.z) }
        centre /= Double(tiled.count)
        let grid = MapGrid.centred(on: centre, size: size, pixelSize: truePixel)
        print("model: \(tiled.count) atoms (1orc tiled); maps: \(size)³ simulated at \(truePixel) Å, header \(headerPixel) Å")
        var simulated: [Float] = []
        let simTime = try seconds {
            simulated = try ModelMap.simulate(atoms: tiled, grid: grid, settings: ModelMapSettings(overallBFactor: 40, resolution: 3))
        }
        print(String(format: "simulate model map (%d atoms onto %d³):  %.2f s (CPU %.2f s)", tiled.count, size, simTime, lastCPU))
        // Noise: Gaussian, σ = 2 × the map's standard deviation (reproducible LCG + Box-Muller).
        var mean = 0.0, sq = 0.0
        for v in simulated { mean += Double(v); sq += Double(v) * Double(v) }
        mean /= Double(simulated.count)
        let sd = (sq / Double(simulated.count) - mean * mean).squareRoot()
        var state: UInt64 = 42
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return (Double(state >> 11) + 0.5) / Double(1 << 53) }
        var noisy = simulated
        for i in noisy.indices { noisy[i] += Float(2 * sd * (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())) }
        let mapPath = (data as NSString).appendingPathComponent("map.mrc")
        let referencePath = (data as NSString).appendingPathComponent("reference.mrc")
        try MRCFile.write(MRCMap(nx: size, ny: size, nz: size, pixelSize: headerPixel, data: noisy), to: mapPath, policy: OutputPolicy(overwrite: true))
        try MRCFile.write(MRCMap(nx: size, ny: size, nz: size, pixelSize: truePixel, data: simulated), to: referencePath, policy: OutputPolicy(overwrite: true))
        // The model as fitted at the header's pixel size (map origin 0).
        let shift = (centre - grid.origin) / truePixel * headerPixel - centre
        let fitted = tiled.map { a -> Atom in var b = a; b.x += shift.x; b.y += shift.y; b.z += shift.z; return b }

        var result: CalibrationResult?
        if only != "map" {
        let modelTime = try seconds {
            let m = try MRCFile.readMap(path: mapPath)
            let map = DensityGrid(nx: m.nx, ny: m.ny, nz: m.nz, pixelSize: m.pixelSize, data: m.data)
            result = try ModelCalibration.run(map: map, atoms: fitted, options: CalibrationOptions(resolution: 3))
        }
        if let r = result {
            print(String(format: "angpix calibrate model (read map + search): %.2f s (CPU %.2f s)  -> %.5f ± %.5f Å (true %.4f), CC %.3f, %d evaluations",
                         modelTime, lastCPU, r.pixelSize, r.uncertainty, truePixel, r.score, r.evaluations))
        }
        // The same with --refine-rotation, the model turned by 2° about its centroid.
        let turn = SIMD3<Double>(1.2, -1.4, 0.9)
        let rotation = SmallRotation(degrees: turn)
        var fc = SIMD3<Double>.zero
        for a in fitted { fc += SIMD3(a.x, a.y, a.z) }
        fc /= Double(fitted.count)
        let turned = fitted.map { a -> Atom in
            var b = a
            let p = rotation.apply(SIMD3(a.x, a.y, a.z) - fc) + fc
            b.x = p.x; b.y = p.y; b.z = p.z
            return b
        }
        var rotated: CalibrationResult?
        let rotationTime = try seconds {
            let m = try MRCFile.readMap(path: mapPath)
            let map = DensityGrid(nx: m.nx, ny: m.ny, nz: m.nz, pixelSize: m.pixelSize, data: m.data)
            var options = CalibrationOptions(resolution: 3)
            options.refineRotation = true
            rotated = try ModelCalibration.run(map: map, atoms: turned, options: options)
        }
        if let r = rotated, let w = r.rotation {
            let residual = SmallRotation(degrees: SIMD3(w[0], w[1], w[2])).then(rotation).angle
            print(String(format: "angpix calibrate model --refine-rotation (model turned 2.05°): %.2f s (CPU %.2f s)  -> %.5f Å, rotation %.2f° (residual %.2f°), CC %.3f, %d evaluations",
                         rotationTime, lastCPU, r.pixelSize, r.rotationAngle ?? 0, residual, r.score, r.evaluations))
        }
        }
        if only == "model" { return }
        var mapResult: CalibrationResult?
        let mapTime = try seconds {
            let m = try MRCFile.readMap(path: mapPath), r = try MRCFile.readMap(path: referencePath)
            mapResult = try MapCalibration.run(map: DensityGrid(nx: m.nx, ny: m.ny, nz: m.nz, pixelSize: m.pixelSize, data: m.data),
                                               reference: DensityGrid(nx: r.nx, ny: r.ny, nz: r.nz, pixelSize: r.pixelSize, data: r.data),
                                               options: CalibrationOptions(resolution: 3))
        }
        if let r = mapResult {
            print(String(format: "angpix calibrate map (read maps + search):  %.2f s (CPU %.2f s)  -> %.5f ± %.5f Å (true %.4f), CC %.3f, %d evaluations",
                         mapTime, lastCPU, r.pixelSize, r.uncertainty, truePixel, r.score, r.evaluations))
        }
        if noEmda { return }
        runEmda(map: mapPath, reference: referencePath, headerPixel: headerPixel, truePixel: truePixel,
                angpix: mapResult, angpixSeconds: mapTime)
    }

    /// The path of a test fixture of the repository (Tests/Fixtures, small wwPDB entries).
    func packageData(_ name: String) -> String {
        let benchmarks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return benchmarks.deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/\(name)").path
    }

    /// EMDA's map-to-map magnification refinement (emda.ext.magnification, what `emda magref`
    /// runs) on the same two maps, through a small driver script: EMDA 1.1.6's command-line entry
    /// fails on numpy ≥ 1.24 (it uses the removed alias np.float at import), and its translation
    /// step imports emda.ext.sym.refine_symaxis, which imports proshade (used only by EMDA's
    /// symmetry search) at module level; the driver restores the numpy aliases and stands in an
    /// empty proshade module, then calls emda_methods.mapmagnification as `emda magref --map MAP
    /// --ref REFERENCE --res 3` does (no --fit). EMDA's answer is a magnification k of MAP against
    /// REFERENCE after resampling MAP onto REFERENCE's grid with the header pixel sizes, so MAP's
    /// pixel size is header / k.
    func runEmda(map: String, reference: String, headerPixel: Double, truePixel: Double, angpix: CalibrationResult?, angpixSeconds: Double) {
        func run(_ exe: String, _ args: [String], cwd: String? = nil) -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = args
            if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
            let pipe = Pipe()
            p.standardOutput = pipe; p.standardError = pipe
            do { try p.run() } catch { return (-1, "\(error)") }
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: out, as: UTF8.self))
        }
        let (found, version) = run("/usr/bin/env", ["python3", "-c", "import importlib.metadata as m; print(m.version('emda'))"])
        if found != 0 {
            print("emda: unavailable (not installed for python3; see README, Benchmarks, for the install recipe)")
            return
        }
        let work = (data as NSString).appendingPathComponent("emda")
        let driver = (work as NSString).appendingPathComponent("emda_magref.py")
        let script = """
        import sys, time, types
        import numpy as np
        for name, value in (("float", float), ("int", int), ("complex", complex), ("bool", bool)):
            if name not in np.__dict__:
                setattr(np, name, value)
        sys.modules.setdefault("proshade", types.ModuleType("proshade"))
        from emda import emda_methods as em
        start = time.time()
        em.mapmagnification(maplist=[sys.argv[1]], rmap=sys.argv[2], resol=float(sys.argv[3]), fit_optimize=False)
        print("EMDA_SECONDS %.3f" % (time.time() - start))
        """
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try script.write(toFile: driver, atomically: true, encoding: .utf8)
        } catch {
            print("emda: cannot write its driver script: \(error)")
            return
        }
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        let start = DispatchTime.now().uptimeNanoseconds
        let (status, out) = run("/usr/bin/env", ["python3", "emda_magref.py", absolute(map), absolute(reference), "3"], cwd: work)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let lines = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        if status != 0 {
            print("emda \(version.trimmingCharacters(in: .whitespacesAndNewlines)) magnification refinement: failed (status \(status)) after \(formatFixed(wall, decimals: 1)) s: "
                  + lines.filter { !$0.isEmpty }.suffix(3).joined(separator: " | "))
            return
        }
        // The refinement table: "ifit cycle fval magnification"; the last row holds EMDA's answer.
        var k: Double?
        for line in lines {
            let f = line.split(separator: " ").compactMap { Double($0) }
            if f.count == 4, f[0] == 1, f[1] == f[1].rounded() { k = f[3] }
        }
        let inner = lines.first { $0.hasPrefix("EMDA_SECONDS") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        guard let k, k > 0 else {
            print("emda magnification refinement: ran (\(formatFixed(wall, decimals: 1)) s) but printed no magnification: "
                  + lines.filter { !$0.isEmpty }.suffix(3).joined(separator: " | "))
            return
        }
        let emdaPixel = headerPixel / k
        print(String(format: "emda %@ magnification refinement (same maps, --res 3): %.2f s (inside Python %.2f s)  -> k %.4f, MAP pixel %.5f Å (true %.4f)",
                     version.trimmingCharacters(in: .whitespacesAndNewlines), wall, inner ?? .nan, k, emdaPixel, truePixel))
        if let angpix {
            print(String(format: "calibrate map vs emda: time ratio %.2f (angpix %.2f s / emda %.2f s); pixel size angpix %.5f Å (error %+.3f %%), emda %.5f Å (error %+.3f %%)",
                         angpixSeconds / wall, angpixSeconds, wall, angpix.pixelSize, (angpix.pixelSize / truePixel - 1) * 100,
                         emdaPixel, (emdaPixel / truePixel - 1) * 100))
        }
    }
}
