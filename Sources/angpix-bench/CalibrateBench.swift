// angpix-bench calibrate: `calibrate model` on a 256³ map with a 10,000-atom model (1orc tiled on a
// lattice), and `calibrate map` on two 256³ maps, side by side with EMDA's map-to-map
// magnification refinement (`emda magref`) on the same maps when EMDA installs from PyPI (into a
// virtual environment under ./bench-data; otherwise the run says it is unavailable).
// The maps are simulated at 1.0 Å with a header stating 1.03 Å; the recovered pixel size is printed.

import AngpixCore
import ArgumentParser
import Calibration
import Foundation
import MRC
import Models

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
    @Flag(help: "Do not try to install and run EMDA.") var noEmda = false

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
        runEmda(map: mapPath, reference: referencePath, angpixSeconds: mapTime)
    }

    /// The path of a file of ../shared/data (beside the package).
    func packageData(_ name: String) -> String {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return here.deletingLastPathComponent().appendingPathComponent("shared/data/\(name)").path
    }

    func runEmda(map: String, reference: String, angpixSeconds: Double) {
        let venv = "bench-data/emda-venv"
        let fm = FileManager.default
        func run(_ exe: String, _ args: [String]) -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = args
            let pipe = Pipe()
            p.standardOutput = pipe; p.standardError = pipe
            do { try p.run() } catch { return (-1, "\(error)") }
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: out, as: UTF8.self))
        }
        if !fm.isExecutableFile(atPath: "\(venv)/bin/emda") {
            print("installing emda from PyPI into \(venv) ...")
            _ = run("/usr/bin/env", ["python3", "-m", "venv", "--system-site-packages", venv])
            var (status, out) = run("\(venv)/bin/pip", ["install", "-q", "emda"])
            if status != 0 {
                // EMDA's setup imports numpy at build time: retry against the system's numpy.
                (status, out) = run("\(venv)/bin/pip", ["install", "-q", "--no-build-isolation", "emda"])
            }
            if status != 0 || !fm.isExecutableFile(atPath: "\(venv)/bin/emda") {
                print("emda: unavailable (pip install emda failed: \(out.split(separator: "\n").last ?? ""))")
                return
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let (status, out) = run("\(venv)/bin/emda", ["magref", "--map", map, "--ref", reference, "--res", "3"])
        let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if status != 0 {
            print("emda magref: failed (status \(status)): \(out.split(separator: "\n").suffix(3).joined(separator: " | "))")
            return
        }
        let tail = out.split(separator: "\n").filter { $0.lowercased().contains("mag") }.suffix(3).joined(separator: " | ")
        print(String(format: "emda magref (same maps):                   %.2f s  (angpix/emda time ratio %.2f)  %@", t, angpixSeconds / t, tail))
    }
}
