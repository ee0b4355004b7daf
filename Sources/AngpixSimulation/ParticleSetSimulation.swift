// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A whole simulated particle set as a small RELION project, with its truth:
//
//   DIR/particles.star                              RELION 3.1: data_optics + data_particles
//   DIR/Particles/<group>_mic0001.mrcs …            one stack per micrograph (written micrograph by micrograph)
//   DIR/Refine3D/run_half{1,2}_class001_unfil.mrc   the map plus independent noise, at the reference's label,
//                                                   in the first group's box and image units
//   DIR/MaskCreate/mask.mrc                         a soft sphere around the map's content
//   DIR/PostProcess/postprocess.star (and maps)     angpix postprocess of the half maps with the mask
//   DIR/Reference/truth.mrc                         the noise-free map
//   DIR/truth.json                                  every group's and particle's truth (ParticleSetTruth)
//
// The half maps' noise is white, at the level that puts their FSC at 0.143 at `halfMapResolution`
// (FSC = S / (S + N) per shell, S the map's shell power). Every file is written atomically, the
// settings are checked before anything is written, and a failed run removes what it wrote.

import Foundation
import AngpixCore
import AngpixFourier
import AngpixOptics
import AngpixMRC
import AngpixSTAR
import AngpixPostprocess

/// What to simulate: the map, the optics groups, the seed and the half maps' resolution.
public struct ParticleSetSimulation: Sendable {
    public var reference: ReferenceVolume
    public var groups: [SimulatedOpticsGroup]
    /// The seed every random number derives from.
    public var seed: UInt64 = 1
    /// Where the half maps' FSC crosses 0.143 (Å at the reference's label); nil = 2.2 p_r.
    public var halfMapResolution: Double? = nil
    /// The padding of the map's transform for projection.
    public var padding: Int = 2

    public init(reference: ReferenceVolume, groups: [SimulatedOpticsGroup], seed: UInt64 = 1) {
        self.reference = reference
        self.groups = groups
        self.seed = seed
    }

    /// The half maps' FSC = 0.143 resolution used (Å).
    public var effectiveHalfMapResolution: Double {
        halfMapResolution ?? 2.2 * reference.labelPixelSize
    }

    /// Checks all settings (before any file is written).
    public func validate() throws {
        guard !groups.isEmpty else { throw ParticleSimulationError.invalidSettings("no optics group to simulate") }
        var names = Set<String>()
        for (i, g) in groups.enumerated() {
            try g.validate(index: i + 1)
            guard names.insert(g.name).inserted else {
                throw ParticleSimulationError.invalidGroup(group: i + 1, name: g.name, reason: "another group has the same name")
            }
        }
        let r = effectiveHalfMapResolution
        guard r.isFinite, r >= 2 * reference.labelPixelSize else {
            throw ParticleSimulationError.invalidSettings("the half maps' resolution (\(formatSignificant(r)) Å) must be at least twice the reference's pixel size (\(formatSignificant(reference.labelPixelSize)) Å)")
        }
    }
}

/// The truth of one optics group, as truth.json records it.
public struct SimulatedGroupTruth: Sendable, Codable, Equatable {
    /// rlnOpticsGroup.
    public var number: Int
    /// The settings (nominal and true values).
    public var settings: SimulatedOpticsGroup
    /// The side of the field imaged before boxing (pixels).
    public var fieldSize: Int
    /// The noise standard deviation the images were divided by (image units before normalisation).
    public var noiseSigma: Double
    /// The detector's distortion D (row-major 00, 01, 10, 11).
    public var distortion: [Double]
    /// The rlnMagMat00, 01, 10, 11 a correct refinement finds (whatever matrix was written).
    public var expectedMagMatrix: [Double]
    /// √|det M|: the group's isotropic scale relative to the reference.
    public var expectedScale: Double
    /// The group's pixel size in the reference's frame (nominal / scale = t · p_r / t_r, Å).
    public var pixelSizeRelativeToReference: Double
    /// rlnEvenZernike and rlnOddZernike a correct refinement finds (see SimulatedOpticsGroup).
    public var expectedEvenZernike: [Double]
    public var expectedOddZernike: [Double]
    /// rlnBeamTiltX/Y (mrad).
    public var expectedBeamTiltX: Double
    public var expectedBeamTiltY: Double
    /// The Cs in the reference's frequencies (mm): Cs_true (p_r/t_r)⁴.
    public var apparentCs: Double
    /// The factor the images' Fourier amplitudes carry relative to the reference's (t_r/t)² |det D|.
    public var pixelAreaFactor: Double
    /// The amplitude of this group's images relative to the prediction from the half maps
    /// (CTF · projection at the expected M): pixelAreaFactor × σ(group 1) / σ(this group).
    public var amplitudeScale: Double
}

/// The whole truth of a simulated set (truth.json).
public struct ParticleSetTruth: Sendable, Codable {
    public var format: String = "angpix-simulated-particles/1"
    public var seed: UInt64
    /// The reference map: size, true pixel size, label, content radius, half maps' noise and resolution.
    /// The half maps' box (the map's, or the first group's box if larger).
    public var referenceSize: Int
    /// The factor the written maps carry (1 / the first group's noise σ): the maps are in that group's image units.
    public var referenceScale: Double
    public var referenceTruePixelSize: Double
    public var referenceLabelPixelSize: Double
    public var contentRadius: Double
    public var halfMapResolution: Double
    public var halfMapNoiseSigma: Double
    public var groups: [SimulatedGroupTruth]
    /// Every particle, in the order of particles.star's rows.
    public var particles: [SimulatedParticle]

    /// Reads a truth.json.
    public static func read(path: String) throws -> ParticleSetTruth {
        guard let data = FileManager.default.contents(atPath: path) else { throw CoreError.fileNotFound(path: path) }
        do { return try JSONDecoder().decode(ParticleSetTruth.self, from: data) }
        catch { throw CoreError.cannotRead(path: path, reason: "not an angpix truth.json: \(error)") }
    }
}

/// What a run wrote.
public struct ParticleSetFiles: Sendable, Codable {
    public var star: String
    public var stacks: [String]
    public var half1: String
    public var half2: String
    public var mask: String
    public var truthMap: String
    public var postprocessStar: String
    public var truth: String
}

extension ParticleSetSimulation {
    /// Simulates the set and writes it into `directory` (which must be absent or empty unless
    /// `policy.overwrite`). `progress` gets (particles done, total).
    public func write(to directory: String, policy: OutputPolicy, commandLine: String = "angpix simulate particles",
                      progress: ProgressHandler? = nil) throws -> (files: ParticleSetFiles, truth: ParticleSetTruth) {
        try validate()
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CoreError.cannotWrite(path: directory, reason: "exists and is not a folder") }
            let contents = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
            if !contents.isEmpty && !policy.overwrite { throw ParticleSimulationError.outputNotEmpty(path: directory) }
        }
        let simulator = try ParticleSimulator(reference: reference, padding: padding)
        var written: [String] = []
        var createdDirs: [String] = []
        func path(_ rel: String) -> String { (directory as NSString).appendingPathComponent(rel) }
        func makeDir(_ p: String) throws {
            if fm.fileExists(atPath: p) { return }
            do { try fm.createDirectory(atPath: p, withIntermediateDirectories: true) }
            catch { throw CoreError.cannotWrite(path: p, reason: "cannot create the folder: \(error.localizedDescription)") }
            createdDirs.append(p)
        }
        do {
            for d in ["", "Particles", "Refine3D", "MaskCreate", "PostProcess", "Reference"] { try makeDir(path(d)) }
            let total = groups.reduce(0) { $0 + $1.particleCount }
            var done = 0
            var allParticles: [SimulatedParticle] = []
            var groupTruths: [SimulatedGroupTruth] = []
            var stacks: [String] = []
            var rows: [[String]] = []
            // Every group's noise level first: the half maps are written in the first group's image
            // units (the map divided by its noise σ), so that RELION's prediction CTF · projection
            // matches that group's normalised images in amplitude, as a refinement's reference does.
            var plans: [(model: ParticleSimulator.GroupModel, particles: [SimulatedParticle], sigma: Double)] = []
            for (gi, group) in groups.enumerated() {
                let model = simulator.model(for: group)
                let particles = try simulator.particles(group: group, groupNumber: gi + 1, seed: seed)
                let sigma: Double
                if gi > 0 && group.snr == nil {
                    // The first group's dose per Å²: σ ∝ 1 / √(pixel area).
                    sigma = plans[0].sigma * (ParticleSimulator.pixelArea(groups[0]) / ParticleSimulator.pixelArea(group)).squareRoot()
                } else {
                    sigma = try simulator.noiseSigma(for: particles, model: model)
                }
                plans.append((model, particles, sigma))
            }
            let referenceScale = 1 / plans[0].sigma
            for (gi, group) in groups.enumerated() {
                let number = gi + 1
                let (model, particles, sigma) = plans[gi]
                var start = 0
                while start < particles.count {
                    let mic = particles[start].micrograph
                    var end = start
                    while end < particles.count && particles[end].micrograph == mic { end += 1 }
                    let stackRel = "Particles/\(group.name)_mic\(String(format: "%04d", mic)).mrcs"
                    let stackPath = path(stackRel)
                    let s = group.boxSize
                    var images = [Float](repeating: 0, count: (end - start) * s * s)
                    var failure: Error? = nil
                    let lock = NSLock()
                    let chunk = Array(particles[start..<end])
                    images.withUnsafeMutableBufferPointer { buf in
                        nonisolated(unsafe) let out = buf.baseAddress!
                        parallelForEach(chunk.count) { k in
                            do {
                                let img = try simulator.image(chunk[k], model: model, noiseSigma: sigma, seed: self.seed)
                                img.withUnsafeBufferPointer { (out + k * s * s).update(from: $0.baseAddress!, count: s * s) }
                            } catch { lock.lock(); failure = error; lock.unlock() }
                        }
                    }
                    if let failure { throw failure }
                    let writer = try MRCStackWriter(path: stackPath, nx: s, ny: s, pixelSize: group.nominalPixelSize, policy: policy)
                    do {
                        try images.withUnsafeBufferPointer { all in
                            for k in 0..<chunk.count {
                                try writer.append(UnsafeBufferPointer(rebasing: all[(k * s * s)..<((k + 1) * s * s)]))
                            }
                        }
                        try writer.commit()
                    } catch { writer.abort(); throw error }
                    written.append(stackPath)
                    stacks.append(stackPath)
                    for p in chunk {
                        rows.append([
                            formatFixed(p.coordinateX, decimals: 1), formatFixed(p.coordinateY, decimals: 1),
                            String(format: "%06d@", p.positionInStack) + stackRel,
                            "Micrographs/\(group.name)_mic\(String(format: "%04d", mic)).mrc",
                            String(number),
                            formatFixed(p.writtenDefocusU, decimals: 2), formatFixed(p.writtenDefocusV, decimals: 2),
                            formatFixed(p.writtenDefocusAngle, decimals: 3),
                            formatFixed(p.rot, decimals: 4), formatFixed(p.tilt, decimals: 4), formatFixed(p.psi, decimals: 4),
                            formatFixed(p.originX, decimals: 5), formatFixed(p.originY, decimals: 5),
                            "1", String(p.randomSubset),
                        ])
                    }
                    allParticles += chunk
                    done += chunk.count
                    progress?(done, total)
                    start = end
                }
                let m = group.expectedMagnification(reference: reference)
                let d = group.distortion
                let f = SimulatedOpticsGroup.defocusFactor(reference: reference)
                groupTruths.append(SimulatedGroupTruth(
                    number: number, settings: group, fieldSize: model.fieldSize, noiseSigma: sigma,
                    distortion: [d.m00, d.m01, d.m10, d.m11], expectedMagMatrix: [m.m00, m.m01, m.m10, m.m11],
                    expectedScale: m.isotropicScale, pixelSizeRelativeToReference: group.nominalPixelSize / m.isotropicScale,
                    expectedEvenZernike: group.expectedEvenZernike(reference: reference),
                    expectedOddZernike: group.expectedOddZernike(),
                    expectedBeamTiltX: group.beamTiltX, expectedBeamTiltY: group.beamTiltY,
                    apparentCs: group.trueCs * f * f, pixelAreaFactor: model.amplitude,
                    amplitudeScale: model.amplitude * plans[0].sigma / sigma))
            }

            // particles.star
            var opticsLabels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                                "rlnVoltage", "rlnImagePixelSize", "rlnMicrographOriginalPixelSize", "rlnImageSize",
                                "rlnImageDimensionality"]
            let withMag = groups.contains { $0.writtenMagMatrix != nil }
            if withMag { opticsLabels += ["rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11"] }
            let opticsRows: [[String]] = groups.enumerated().map { i, g in
                var row = [String(i + 1), g.name, formatFixed(g.amplitudeContrast, decimals: 6), formatFixed(g.sphericalAberration, decimals: 6),
                           formatFixed(g.voltage, decimals: 6), formatFixed(g.nominalPixelSize, decimals: 6),
                           formatFixed(g.nominalPixelSize, decimals: 6), String(g.boxSize), "2"]
                if withMag {
                    let m = g.writtenMagMatrix ?? .identity
                    row += [m.m00, m.m01, m.m10, m.m11].map { formatFixed($0, decimals: 8) }
                }
                return row
            }
            let particleLabels = ["rlnCoordinateX", "rlnCoordinateY", "rlnImageName", "rlnMicrographName", "rlnOpticsGroup",
                                  "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi",
                                  "rlnOriginXAngst", "rlnOriginYAngst", "rlnClassNumber", "rlnRandomSubset"]
            let starPath = path("particles.star")
            try STARDocument(blocks: [STARBlock(name: "optics", labels: opticsLabels, rows: opticsRows),
                                      STARBlock(name: "particles", labels: particleLabels, rows: rows)])
                .write(to: starPath, policy: policy)
            written.append(starPath)

            // Half maps, mask, truth map: in the box of the first group if the map is smaller (as
            // Refine3D writes them), in the first group's image units.
            let n = max(reference.size, groups[0].boxSize), pr = reference.labelPixelSize
            let (h1, h2, noise) = try halfMaps(size: n, scale: referenceScale)
            let half1 = path("Refine3D/run_half1_class001_unfil.mrc"), half2 = path("Refine3D/run_half2_class001_unfil.mrc")
            let maskPath = path("MaskCreate/mask.mrc"), truthMap = path("Reference/truth.mrc")
            try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: pr, data: h1), to: half1, policy: policy); written.append(half1)
            try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: pr, data: h2), to: half2, policy: policy); written.append(half2)
            try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: pr, data: softMask(size: n, contentRadius: simulator.contentRadius)),
                              to: maskPath, policy: policy); written.append(maskPath)
            try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: pr, data: paddedReference(size: n).map { $0 * Float(referenceScale) }),
                              to: truthMap, policy: policy); written.append(truthMap)

            // PostProcess.
            let pp = try Postprocessor.run(half1: half1, half2: half2, mask: maskPath, options: PostprocessOptions())
            let ppPolicy = policy
            let ppFiles = try pp.write(to: path("PostProcess"),
                                       inputs: PostprocessInputNames(half1: "Refine3D/run_half1_class001_unfil.mrc",
                                                                     half2: "Refine3D/run_half2_class001_unfil.mrc",
                                                                     mask: "MaskCreate/mask.mrc"),
                                       commandLine: commandLine, policy: ppPolicy)
            written += [ppFiles.map, ppFiles.star, ppFiles.fscXML] + (ppFiles.maskedMap.map { [$0] } ?? [])

            // truth.json
            let truth = ParticleSetTruth(seed: seed, referenceSize: n, referenceScale: referenceScale,
                                         referenceTruePixelSize: reference.truePixelSize,
                                         referenceLabelPixelSize: pr, contentRadius: simulator.contentRadius,
                                         halfMapResolution: effectiveHalfMapResolution, halfMapNoiseSigma: noise,
                                         groups: groupTruths, particles: allParticles)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let truthPath = path("truth.json")
            try writeFileAtomically(try encoder.encode(truth), to: truthPath, policy: policy)
            written.append(truthPath)
            return (ParticleSetFiles(star: starPath, stacks: stacks, half1: half1, half2: half2, mask: maskPath,
                                     truthMap: truthMap, postprocessStar: ppFiles.star, truth: truthPath), truth)
        } catch {
            for p in written { try? fm.removeItem(atPath: p) }
            for d in createdDirs.reversed() where ((try? fm.contentsOfDirectory(atPath: d)) ?? ["?"]).isEmpty {
                try? fm.removeItem(atPath: d)
            }
            throw error
        }
    }

    /// The map in an N³ box (N ≥ its size), its centre voxel n/2 at N/2.
    public func paddedReference(size big: Int) -> [Float] {
        let n = reference.size
        if big == n { return reference.data }
        let o = big / 2 - n / 2
        var out = [Float](repeating: 0, count: big * big * big)
        for z in 0..<n { for y in 0..<n {
            let src = (z * n + y) * n, dst = ((z + o) * big + y + o) * big + o
            for x in 0..<n { out[dst + x] = reference.data[src + x] }
        } }
        return out
    }

    /// The two half maps in an N³ box (the map plus independent white noise, times `scale`) and
    /// the noise's standard deviation (before scaling).
    public func halfMaps(size n: Int, scale: Double = 1) throws -> (half1: [Float], half2: [Float], noiseSigma: Double) {
        let data = paddedReference(size: n)
        let plan = try RealFFTPlan(shape: [n, n, n])
        let power = try FourierShells(cubeOfSize: n).radialPower(plan.forward(data))
        let shell = min(n / 2 - 1, max(1, Int((Double(n) * reference.labelPixelSize / effectiveHalfMapResolution).rounded())))
        let s = shell < power.count ? power[shell] : 0
        let sigma = (max(0, s) * (1 / 0.143 - 1) / Double(n * n * n)).squareRoot()
        var r1 = SplitMix64(seed: derivedSeed(seed, 0xA1)), r2 = SplitMix64(seed: derivedSeed(seed, 0xA2))
        let h1 = data.map { Float((Double($0) + sigma * r1.gaussian()) * scale) }
        let h2 = data.map { Float((Double($0) + sigma * r2.gaussian()) * scale) }
        return (h1, h2, sigma)
    }

    /// A soft spherical mask around the content (radius + 3 voxels, 6-voxel raised-cosine edge).
    func softMask(size n: Int, contentRadius: Double) -> [Float] {
        let width = 6.0
        let r0 = min(contentRadius / reference.truePixelSize + 3, Double(n / 2) - 1 - width)
        var m = [Float](repeating: 0, count: n * n * n)
        let c = Double(n / 2)
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            let dx = Double(x) - c, dy = Double(y) - c, dz = Double(z) - c
            let r = (dx * dx + dy * dy + dz * dz).squareRoot()
            m[(z * n + y) * n + x] = Float(r <= r0 ? 1 : (r < r0 + width ? 0.5 + 0.5 * cos(Double.pi * (r - r0) / width) : 0))
        } } }
        return m
    }
}
