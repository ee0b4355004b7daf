// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix simulate particles`: a simulated particle set with a known truth per optics group.
// Argument parsing and printing only; the work is in the Simulation module.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixOptics
import AngpixMRC
import AngpixModels
import AngpixSimulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate data with a known truth.",
        discussion: """
        Example:
          angpix simulate particles --builtin-model -o Simulated --group name=g1,true-angpix=1.02
        """,
        subcommands: [SimulateParticlesCommand.self]
    )
}

struct SimulateParticlesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "particles",
        abstract: "Simulate a RELION 3.1 particle set with known pixel sizes, magnification and aberrations per optics group.",
        discussion: """
        Projects a map (--map), a model's map (--model) or the built-in helix bundle (--builtin-model) \
        at random orientations and origins, applies each group's true CTF (true defocus and Cs, \
        aberrations, beam tilt) on a field larger than the box, then the detector's true pixel size \
        and anisotropic distortion, boxes and adds noise. Writes OUTDIR/particles.star (RELION 3.1), \
        one stack per micrograph under OUTDIR/Particles, half maps (OUTDIR/Refine3D), a mask, \
        OUTDIR/PostProcess/postprocess.star, the noise-free map and OUTDIR/truth.json (every group's \
        and particle's truth, including the rlnMagMat, rlnEvenZernike and rlnOddZernike a correct \
        refinement finds).

        Each --group is a comma-separated list of key=value; keys not given take the defaults of \
        the options below: name, angpix (nominal), true-angpix, box, particles, per-micrograph, \
        aniso (major/minor − 1, %), axis (°), voltage, cs (written, mm), true-cs, q0, z40 (added to \
        rlnEvenZernike index 6), beam-tilt-x, beam-tilt-y (mrad), defocus (MIN:MAX Å), astigmatism, \
        defocus-spread, defocus-error (Å), defocus-frame (nominal: the defocus CTFFIND sees at the \
        nominal pixel size, the default; ctffind: the one a fit with the written Cs finds there; \
        reference: the one a complete refinement ends with), snr, \
        bfactor (Å²), max-origin (px), \
        mag (M00:M01:M10:M11, written as rlnMagMat).

        Example:
          angpix simulate particles --builtin-model -o Simulated --particles 600 --group name=g1 \\
              --group name=g2,true-angpix=1.02 --group name=g3,aniso=1.5,axis=30
        """
    )

    @Option(help: "The map to project (its header's pixel size is its true one).")
    var map: String?

    @Option(help: "An atomic model (PDB or mmCIF) to make the map from.")
    var model: String?

    @Flag(help: "Use the built-in bundle of four ideal α-helices.")
    var builtinModel = false

    @Option(name: .customLong("reference-angpix"), help: "The true pixel size of the map made from a model (Å; default: the first group's nominal).")
    var referenceAngpix: Double?

    @Option(name: .customLong("reference-label"), help: "The pixel size written in the half maps' headers (Å; default: the map's true one).")
    var referenceLabel: Double?

    @Option(name: .customLong("model-bfactor"), help: "B-factor of the map made from a model (Å²).")
    var modelBFactor: Double = 30

    @Option(name: [.customShort("o"), .customLong("out")], help: "The output folder (absent or empty).")
    var output: String

    @Option(name: .customLong("group"), help: "An optics group: key=value,… (repeatable; see above).")
    var groups: [String] = []

    @Option(name: .customLong("angpix"), help: "Default nominal pixel size (Å).")
    var angpix: Double = 1.0

    @Option(help: "Default box (pixels, even).")
    var box: Int = 128

    @Option(help: "Default number of particles per group.")
    var particles: Int = 1000

    @Option(name: .customLong("per-micrograph"), help: "Default particles per micrograph.")
    var perMicrograph: Int = 50

    @Option(help: "The first group's signal-to-noise ratio (variance of the noise-free boxes / noise variance); later groups get its dose per Å² unless their --group gives snr=.")
    var snr: Double = 0.1

    @Option(help: "Default defocus range MIN:MAX (Å).")
    var defocus: String = "5000:15000"

    @Option(help: "Default voltage (kV).")
    var voltage: Double = 300

    @Option(help: "Default Cs written to the STAR file (mm).")
    var cs: Double = 2.7

    @Option(name: .customLong("half-map-resolution"), help: "Where the half maps' FSC crosses 0.143 (Å; default 2.2 × their pixel size).")
    var halfMapResolution: Double?

    @Option(help: "The random seed.")
    var seed: UInt64 = 1

    @Option(help: "Threads to use (default: all cores).")
    var jobs: Int?

    @Flag(help: "Write into a non-empty output folder, replacing files.")
    var force = false

    @Flag(help: "Print the truth's per-group summary as JSON.")
    var json = false

    func validate() throws {
        let sources = [map != nil, model != nil, builtinModel].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --map, --model and --builtin-model") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if map != nil && referenceAngpix != nil {
            throw ValidationError("--reference-angpix is for a map made from a model; a --map's header gives its true pixel size")
        }
        guard parseRange(defocus) != nil else { throw ValidationError("--defocus \(defocus): expected MIN:MAX in Å, e.g. 5000:15000") }
    }

    func parseRange(_ text: String) -> (Double, Double)? {
        let p = text.split(separator: ":")
        guard p.count == 2, let a = Double(p[0]), let b = Double(p[1]) else { return nil }
        return (a, b)
    }

    func defaultGroup(_ index: Int) -> SimulatedOpticsGroup {
        var g = SimulatedOpticsGroup(name: "group\(index)", nominalPixelSize: angpix, boxSize: box, particleCount: particles)
        g.particlesPerMicrograph = perMicrograph
        if index == 1 { g.snr = snr }
        g.voltage = voltage
        g.sphericalAberration = cs
        let (lo, hi) = parseRange(defocus)!
        g.defocusMin = lo; g.defocusMax = hi
        return g
    }

    func parseGroup(_ text: String, index: Int) throws -> SimulatedOpticsGroup {
        var g = defaultGroup(index)
        var trueAngpix: Double? = nil
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw ValidationError("--group \(text): '\(item)' is not key=value") }
            let (key, value) = (kv[0], kv[1])
            func number() throws -> Double {
                guard let v = Double(value) else { throw ValidationError("--group \(text): \(key)=\(value) is not a number") }
                return v
            }
            func integer() throws -> Int {
                guard let v = Int(value) else { throw ValidationError("--group \(text): \(key)=\(value) is not an integer") }
                return v
            }
            switch key {
            case "name": g.name = value
            case "angpix": g.nominalPixelSize = try number()
            case "true-angpix": trueAngpix = try number()
            case "box": g.boxSize = try integer()
            case "particles": g.particleCount = try integer()
            case "per-micrograph": g.particlesPerMicrograph = try integer()
            case "aniso": g.anisotropyPercent = try number()
            case "axis": g.anisotropyAxis = try number()
            case "voltage": g.voltage = try number()
            case "cs": g.sphericalAberration = try number()
            case "true-cs": g.trueSphericalAberration = try number()
            case "q0": g.amplitudeContrast = try number()
            case "z40":
                if g.evenZernike.count < 7 { g.evenZernike += [Double](repeating: 0, count: 7 - g.evenZernike.count) }
                g.evenZernike[6] = try number()
            case "beam-tilt-x": g.beamTiltX = try number()
            case "beam-tilt-y": g.beamTiltY = try number()
            case "defocus":
                guard let (lo, hi) = parseRange(value) else { throw ValidationError("--group \(text): defocus=\(value): expected MIN:MAX") }
                g.defocusMin = lo; g.defocusMax = hi
            case "astigmatism": g.maxAstigmatism = try number()
            case "defocus-spread": g.particleDefocusSpread = try number()
            case "defocus-error": g.defocusError = try number()
            case "defocus-frame":
                guard let frame = DefocusFrame(rawValue: value) else { throw ValidationError("--group \(text): defocus-frame=\(value): expected nominal, ctffind or reference") }
                g.writtenDefocus = frame
            case "snr": g.snr = try number()
            case "bfactor": g.bFactor = try number()
            case "max-origin": g.maxOriginPixels = try number()
            case "mag":
                let m = value.split(separator: ":").compactMap { Double($0) }
                guard m.count == 4 else { throw ValidationError("--group \(text): mag=\(value): expected M00:M01:M10:M11") }
                g.writtenMagMatrix = Matrix2x2(m[0], m[1], m[2], m[3])
            default:
                throw ValidationError("--group \(text): unknown key '\(key)'")
            }
        }
        g.truePixelSize = trueAngpix ?? g.nominalPixelSize
        return g
    }

    func reference(firstGroup: SimulatedOpticsGroup) throws -> ReferenceVolume {
        if let map {
            let m = try MRCFile.readMap(path: map)
            guard m.nx == m.ny, m.ny == m.nz else {
                throw ValidationError("\(map): the map must be cubic (it is \(m.nx) × \(m.ny) × \(m.nz))")
            }
            guard m.pixelSize > 0 else { throw ValidationError("\(map): the header has no pixel size") }
            return ReferenceVolume(size: m.nx, truePixelSize: m.pixelSize, labelPixelSize: referenceLabel, data: m.data)
        }
        let atoms: [Atom]
        if let model {
            atoms = try ModelReader.read(path: model).model.atoms
        } else {
            atoms = IdealHelixBundle.atoms(centre: .zero)
        }
        guard !atoms.isEmpty else { throw ValidationError("\(model ?? "model"): no atoms") }
        let t = referenceAngpix ?? firstGroup.nominalPixelSize
        var lo = SIMD3<Double>(repeating: .infinity), hi = SIMD3<Double>(repeating: -.infinity)
        for a in atoms { let p = SIMD3(a.x, a.y, a.z); lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        let centre = (lo + hi) / 2
        var radius = 0.0
        for a in atoms { let d = SIMD3(a.x, a.y, a.z) - centre; radius = max(radius, (d * d).sum().squareRoot()) }
        var n = Int(((2 * radius + 24) / t).rounded(.up))
        n += n % 2
        n = max(n, 32)
        let grid = MapGrid.centred(on: centre, size: n, pixelSize: t)
        let data = try ModelMap.simulate(atoms: atoms, grid: grid, settings: ModelMapSettings(overallBFactor: modelBFactor))
        return ReferenceVolume(size: n, truePixelSize: t, labelPixelSize: referenceLabel, data: data)
    }

    func run() throws {
        if let jobs { Parallelism.setJobs(jobs) }
        let specs = groups.isEmpty ? [""] : groups
        var parsed: [SimulatedOpticsGroup] = []
        for (i, s) in specs.enumerated() { parsed.append(s.isEmpty ? defaultGroup(i + 1) : try parseGroup(s, index: i + 1)) }
        let ref = try reference(firstGroup: parsed[0])
        var simulation = ParticleSetSimulation(reference: ref, groups: parsed, seed: seed)
        simulation.halfMapResolution = halfMapResolution
        let progress = ProgressLine("simulating", unit: "particles")
        let started = Date()
        let (files, truth) = try simulation.write(to: output, policy: OutputPolicy(overwrite: force),
                                                  commandLine: CommandLine.arguments.joined(separator: " "),
                                                  progress: progress.handler)
        progress.finish()
        let seconds = Date().timeIntervalSince(started)
        if json { try printJSON(truth.groups); return }
        print("reference: \(ref.size)³ voxels at \(formatFixed(ref.truePixelSize, decimals: 4)) Å (labelled \(formatFixed(ref.labelPixelSize, decimals: 4)) Å); half maps to \(formatFixed(truth.halfMapResolution, decimals: 2)) Å")
        for g in truth.groups {
            let s = g.settings
            let m = g.expectedMagMatrix.map { formatFixed($0, decimals: 6) }.joined(separator: " ")
            print("optics group \(g.number) (\(s.name)): \(s.particleCount) particles of \(s.boxSize)² px, nominal \(formatFixed(s.nominalPixelSize, decimals: 4)) Å, true \(formatFixed(s.truePixelSize, decimals: 4)) Å, anisotropy \(formatFixed(s.anisotropyPercent, decimals: 2)) % at \(formatFixed(s.anisotropyAxis, decimals: 1))°, noise σ \(formatSignificant(g.noiseSigma, digits: 4)), amplitude \(formatFixed(g.amplitudeScale, decimals: 4)); expected rlnMagMat \(m), Z40 \(formatFixed(g.expectedEvenZernike.count > 6 ? g.expectedEvenZernike[6] : 0, decimals: 4))")
        }
        print("wrote \(files.star), \(files.stacks.count) stacks, \(files.postprocessStar) and \(files.truth) in \(formatFixed(seconds, decimals: 1)) s")
    }
}
