// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A small simulated particle set for the pipeline and command tests: a blob map as both half
// maps, particles projected at their group's true magnification (the CTF at the same distorted
// frequencies), written as one stack per micrograph, a RELION 3.1 particle STAR file and a
// postprocess.star naming the half maps with a flat FSC. Small on purpose: seconds, not minutes.

import Foundation
import AngpixCore
import AngpixFourier
import AngpixMRC
import AngpixOptics
@testable import AngpixRefine

struct SyntheticGroup {
    var box: Int
    var pixelSize: Double
    /// The group's true magnification relative to the reference (what the fit should find).
    var trueMatrix: Matrix2x2
    /// rlnMagMat already in the file (nil: none).
    var fileMatrix: Matrix2x2? = nil
    var particles: Int
    /// The true optics where they differ from the file's (which says Cs 2.7 mm and no aberrations):
    /// the CTF's matrix (nil: `trueMatrix`; a matrix here and identity as `trueMatrix` is a
    /// pixel-size error the reference, made from these particles, does not see), Cs (mm), Zernike terms.
    var ctfMatrix: Matrix2x2? = nil
    var trueCs: Double = 2.7
    var trueEvenZernike: [Double] = []
    var trueOddZernike: [Double] = []
    /// The file's defocus: the truth scaled by this factor, plus a uniform error of ± `defocusError` Å.
    var fileDefocusScale: Double = 1
    var defocusError: Double = 0
    /// One astigmatism per micrograph (RELION's default fit) instead of one per particle.
    var micrographAstigmatism = false
}

struct SyntheticParticleSet {
    var folder: String
    /// Each particle's true mean defocus (Å), by row.
    var trueDefocus: [Double] = []
    var star: String { folder + "/particles.star" }
    var postprocess: String { folder + "/postprocess.star" }

    /// Writes the set into `folder` (relative names inside the STAR files, as RELION's).
    static func make(in folder: String, groups: [SyntheticGroup], referenceBox: Int = 48, referencePixelSize: Double = 1.0,
                     particlesPerMicrograph: Int = 10, noise: Double = 0, seed: UInt64 = 7) throws -> SyntheticParticleSet {
        var rng = SplitMix64(seed: seed)
        // Blobs spread through a sphere of radius 14 Å: signal to high resolution, asymmetric.
        let object = BlobObject.random(rng: &rng)
        let map = object.map(box: referenceBox, pixelSize: referencePixelSize)
        let policy = OutputPolicy(overwrite: true)
        try FileManager.default.createDirectory(atPath: folder + "/Stacks", withIntermediateDirectories: true)
        try MRCFile.write(map, to: folder + "/half1.mrc", policy: policy)
        try MRCFile.write(map, to: folder + "/half2.mrc", policy: policy)
        // The half maps are the same noise-free map, so their FSC is 1 (to 0.8 of the reference's
        // Nyquist): the fits take the FSC as the fraction of the prediction's power that is signal.
        var pp = "data_general\n\n_rlnFinalResolution 3.0\n_rlnUnfilteredMapHalf1 half1.mrc\n_rlnUnfilteredMapHalf2 half2.mrc\n\n"
        pp += "data_fsc\n\nloop_\n_rlnSpectralIndex #1\n_rlnResolution #2\n_rlnAngstromResolution #3\n_rlnFourierShellCorrelationCorrected #4\n"
        for i in 0...(referenceBox / 2) {
            let extent = Double(referenceBox) * referencePixelSize
            pp += "\(i) \(Double(i) / extent) \(i == 0 ? 999 : extent / Double(i)) \(Double(i) <= 0.8 * Double(referenceBox / 2) ? 1.0 : 0.0)\n"
        }
        try pp.write(toFile: folder + "/postprocess.star", atomically: true, encoding: .utf8)
        let projector = try ReferenceProjector(map: map)

        var optics = "data_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n_rlnAmplitudeContrast #3\n"
        optics += "_rlnSphericalAberration #4\n_rlnVoltage #5\n_rlnImagePixelSize #6\n_rlnImageSize #7\n_rlnImageDimensionality #8\n"
        let withMatrix = groups.contains { $0.fileMatrix != nil }
        if withMatrix { optics += "_rlnMagMat00 #9\n_rlnMagMat01 #10\n_rlnMagMat10 #11\n_rlnMagMat11 #12\n" }
        for (gi, g) in groups.enumerated() {
            optics += "\(gi + 1) group\(gi + 1) 0.1 2.7 300 \(g.pixelSize) \(g.box) 2"
            if withMatrix { let m = g.fileMatrix ?? .identity; optics += " \(m.m00) \(m.m01) \(m.m10) \(m.m11)" }
            optics += "\n"
        }
        var rows = "\ndata_particles\n\nloop_\n"
        let labels = ["rlnImageName", "rlnMicrographName", "rlnOpticsGroup", "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi",
                      "rlnOriginXAngst", "rlnOriginYAngst", "rlnRandomSubset", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"]
        for (i, l) in labels.enumerated() { rows += "_\(l) #\(i + 1)\n" }
        var micrograph = 0
        var truth: [Double] = []
        for (gi, g) in groups.enumerated() {
            let s = g.box, plan = try RealFFTPlan(shape: [s, s])
            var left = g.particles
            while left > 0 {
                micrograph += 1
                let n = min(left, particlesPerMicrograph)
                left -= n
                let stackName = "Stacks/mic\(micrograph).mrcs"
                let writer = try MRCStackWriter(path: folder + "/" + stackName, nx: s, ny: s, pixelSize: g.pixelSize, policy: policy)
                let defocus = rng.uniform(8000, 20000)
                let shared = g.micrographAstigmatism ? (rng.uniform(0, 400), rng.uniform(-90, 90)) : nil
                for k in 0..<n {
                    let pose = ParticlePose(rotDegrees: rng.uniform(-180, 180), tiltDegrees: acos(rng.uniform(-1, 1)) * 180 / Double.pi,
                                            psiDegrees: rng.uniform(-180, 180),
                                            originXAngstrom: rng.uniform(-3, 3), originYAngstrom: rng.uniform(-3, 3))
                    let du = defocus + rng.uniform(-300, 300)
                    let dv = du - (shared?.0 ?? rng.uniform(0, 400)), da = shared?.1 ?? rng.uniform(-90, 90)
                    let ctf = try CTF(CTFParameters(defocusU: du, defocusV: dv, defocusAngle: da, sphericalAberration: g.trueCs,
                                                    evenZernike: g.trueEvenZernike, oddZernike: g.trueOddZernike,
                                                    magMatrix: g.ctfMatrix ?? g.trueMatrix))
                    truth.append((du + dv) / 2)
                    var fu = du * g.fileDefocusScale, fv = dv * g.fileDefocusScale
                    if g.defocusError > 0 {
                        let e = rng.uniform(-g.defocusError, g.defocusError)
                        fu += e; fv += e
                    }
                    var spectrum = projector.project(pose: pose, boxSize: s, pixelSize: g.pixelSize, magMatrix: g.trueMatrix).values
                    let hx = s / 2 + 1, extent = Double(s) * g.pixelSize
                    for row in 0..<s {
                        let ky = Double(fourierFrequency(row, s)) / extent
                        for i in 0..<hx {
                            let c = ctf.complexValue(x: Double(i) / extent, y: ky)
                            let v = spectrum[row * hx + i], n = Double(s * s)
                            spectrum[row * hx + i] = Complex32(re: Float((c.re * Double(v.re) - c.im * Double(v.im)) * n),
                                                               im: Float((c.re * Double(v.im) + c.im * Double(v.re)) * n))
                        }
                    }
                    var image = plan.inverse(spectrum)
                    if noise > 0 { for p in image.indices { image[p] += Float(noise * rng.gaussian()) } }
                    try writer.append(image)
                    let subset = (k + micrograph) % 2 + 1
                    rows += "\(k + 1)@\(stackName) mic\(micrograph).mrc \(gi + 1) \(pose.rotDegrees) \(pose.tiltDegrees) \(pose.psiDegrees) "
                    rows += "\(pose.originXAngstrom) \(pose.originYAngstrom) \(subset) \(fu) \(fv) \(da)\n"
                }
                try writer.commit()
            }
        }
        try (optics + rows).write(toFile: folder + "/particles.star", atomically: true, encoding: .utf8)
        return SyntheticParticleSet(folder: folder, trueDefocus: truth)
    }
}
