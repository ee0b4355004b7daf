// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Simulated single-particle images with a known truth per optics group, for testing the optics
// refinements (`angpix refine`) and for users to check their pipeline (`angpix simulate particles`).
//
// Conventions are RELION 3.1's (src/jaz/single_particle/obs_model.cpp predictObservation, src/euler.cpp,
// src/projector.cpp), so that RELION's ctf_refine reads the result as it reads its own data:
//   - the pose (rlnAngleRot, rlnAngleTilt, rlnAnglePsi) gives A = Euler_angles2matrix(rot, tilt, psi),
//     and the 2D frequency κ of a projection samples the map's 3D transform at Aᵀ (κ, 0);
//   - the particle's centre (the map's voxel n/2) lies at box pixel s/2 − rlnOriginXAngst / p (and
//     likewise in y), p the nominal pixel size (rlnImagePixelSize);
//   - the optics group's magnification M (rlnMagMat) maps a frequency k of the image (1/Å at the nominal
//     pixel size) to the reference's frequency κ = M k; the CTF, rlnEvenZernike and rlnOddZernike
//     are functions of κ; the observation is CTF(κ) · exp(i φ_odd(κ)) · projection(κ).
//
// The physics, in the order it happens (computed exactly in Fourier space on a field larger than
// the box, then boxed):
//   1. projection of the map at its true pixel size t_r, with the particle at its origin (the map
//      is interpolated trilinearly in a 2× padded, gridding-corrected transform);
//   2. the objective lens: the CTF with the true defocus and true Cs at the specimen's frequency
//      q (1/Å, true), the group's even and odd aberrations and beam tilt (RELION's conventions, at
//      κ = (t_r / p_r) q with p_r the reference's nominal pixel size), an envelope exp(−B q²/4);
//   3. the projector lenses and the detector: a specimen position r (Å) lands at detector pixel
//      u = D r / t, with t the group's true pixel size and D an area-preserving anisotropic
//      distortion (magnified by √(1+ε) along the axis θ, shrunk by the same factor across it);
//      so detector frequency ν (cycles per pixel) sees q = Dᵀ ν / t, and the image (sampled per
//      pixel) carries the pixel-area factor (t_r / t)² · |det D| in its Fourier amplitudes;
//      the whole field is imaged (signal the CTF delocalises beyond the box is recorded there and
//      lost by the boxing, as in real extraction; the field is large enough that none wraps back);
//   4. boxing: the central s × s pixels of the field (the particle's box, centred on its pick);
//   5. noise: white Gaussian; images are divided by its standard deviation (unit noise, as RELION's
//      normalised particles). The first group's level gives its SNR (the mean variance of the
//      noise-free boxes over the noise variance); a later group has its own SNR if given, else the
//      same dose per Å² (noise σ ∝ 1/√(pixel area): a pixel that sees more specimen counts more
//      electrons), so its normalised signal carries √(pixel area) as real data do.
// The detector is ideal (no MTF; no aliasing: equivalent to a super-resolution detector binned by
// Fourier cropping). The magnification RELION should find is then M = (t_r p / (p_r t)) · Dᵀ.

import Foundation
import AngpixCore
import AngpixFourier
import AngpixOptics

/// The 3D map particles are projected from, sampled at its true pixel size.
public struct ReferenceVolume: Sendable {
    /// Edge length n of the cubic map (voxels).
    public var size: Int
    /// The true voxel size t_r (Å).
    public var truePixelSize: Double
    /// The pixel size the half maps' headers carry (p_r, Å); normally the true one.
    public var labelPixelSize: Double
    /// n³ values, x fastest.
    public var data: [Float]

    public init(size: Int, truePixelSize: Double, labelPixelSize: Double? = nil, data: [Float]) {
        self.size = size
        self.truePixelSize = truePixelSize
        self.labelPixelSize = labelPixelSize ?? truePixelSize
        self.data = data
    }
}

/// One optics group to simulate: what is written in the STAR file (nominal values) and the truth.
public struct SimulatedOpticsGroup: Sendable, Codable, Equatable {
    /// rlnOpticsGroupName.
    public var name: String
    /// The nominal pixel size written as rlnImagePixelSize (Å).
    public var nominalPixelSize: Double
    /// The true pixel size t of the detector (Å, the isotropic part).
    public var truePixelSize: Double
    /// The box s (pixels, even).
    public var boxSize: Int
    /// Number of particles in the group.
    public var particleCount: Int
    /// Particles per micrograph (one stack per micrograph).
    public var particlesPerMicrograph: Int = 50
    /// Anisotropic magnification: major / minor − 1, in percent (area-preserving).
    public var anisotropyPercent: Double = 0
    /// Direction of the larger magnification (degrees from x).
    public var anisotropyAxis: Double = 0
    /// Voltage (kV).
    public var voltage: Double = 300
    /// The Cs written as rlnSphericalAberration (mm).
    public var sphericalAberration: Double = 2.7
    /// The true Cs (mm); nil = the written one.
    public var trueSphericalAberration: Double? = nil
    /// Q0 (rlnAmplitudeContrast).
    public var amplitudeContrast: Double = 0.1
    /// Additional true even aberrations (rlnEvenZernike order and units, at the reference's frequencies).
    public var evenZernike: [Double] = []
    /// Additional true odd aberrations (rlnOddZernike order and units).
    public var oddZernike: [Double] = []
    /// True beam tilt (mrad), in RELION's convention (rlnBeamTiltX/Y: its Z3±1 terms with the written Cs).
    public var beamTiltX: Double = 0
    public var beamTiltY: Double = 0
    /// Range of micrograph defocus (Å, true, underfocus positive).
    public var defocusMin: Double = 5000
    public var defocusMax: Double = 15000
    /// Largest astigmatism ΔU − ΔV per micrograph (Å); each micrograph draws one in [0, this).
    public var maxAstigmatism: Double = 400
    /// Standard deviation of each particle's defocus about its micrograph's (Å; its height in the ice).
    public var particleDefocusSpread: Double = 50
    /// Standard deviation of the error added to the defocus written in the STAR file (Å; 0 = exact).
    public var defocusError: Double = 0
    /// Which defocus the STAR file gets (before `defocusError`).
    public var writtenDefocus: DefocusFrame = .nominal
    /// Signal-to-noise ratio (variance of the noise-free boxes / noise variance). nil: the first
    /// group's is 0.1, and a later group gets the first group's dose per Å² (its noise then
    /// follows from its pixel area, as on the same microscope).
    public var snr: Double? = nil
    /// Signal envelope B-factor (Å²): exp(−B q²/4).
    public var bFactor: Double = 0
    /// Largest origin offset along x and y (pixels); origins are uniform in ±this.
    public var maxOriginPixels: Double = 3
    /// A magnification matrix to write as rlnMagMat00…11 (e.g. a previous refinement's); nil = none.
    public var writtenMagMatrix: Matrix2x2? = nil

    public init(name: String, nominalPixelSize: Double, truePixelSize: Double? = nil, boxSize: Int, particleCount: Int) {
        self.name = name
        self.nominalPixelSize = nominalPixelSize
        self.truePixelSize = truePixelSize ?? nominalPixelSize
        self.boxSize = boxSize
        self.particleCount = particleCount
    }

    /// The true Cs in mm.
    public var trueCs: Double { trueSphericalAberration ?? sphericalAberration }

    /// The detector's distortion D (real space, area-preserving): √(1+ε) along the axis, 1/√(1+ε) across.
    public var distortion: Matrix2x2 {
        let a = (1 + anisotropyPercent / 100).squareRoot()
        let th = anisotropyAxis * Double.pi / 180
        let c = cos(th), s = sin(th)
        // R diag(a, 1/a) Rᵀ
        let b = 1 / a
        return Matrix2x2(a * c * c + b * s * s, (a - b) * c * s, (a - b) * c * s, a * s * s + b * c * c)
    }

    /// The magnification matrix RELION should find against `reference`: M = (t_r p / (p_r t)) · Dᵀ.
    public func expectedMagnification(reference: ReferenceVolume) -> Matrix2x2 {
        let f = reference.truePixelSize * nominalPixelSize / (reference.labelPixelSize * truePixelSize)
        let d = distortion
        return Matrix2x2(f * d.m00, f * d.m10, f * d.m01, f * d.m11)
    }

    /// The factor from the defocus at the specimen to the defocus in the reference's frequencies: (p_r / t_r)².
    public static func defocusFactor(reference: ReferenceVolume) -> Double {
        let r = reference.labelPixelSize / reference.truePixelSize
        return r * r
    }

    /// The even Zernike coefficients RELION should find (rlnEvenZernike): the given ones plus the
    /// Cs error, π λ³ ΔCs / 12 at Z40 with 3× at Z20 and 2× at Z00 (together a pure |κ|⁴ term),
    /// ΔCs = Cs_true (p_r/t_r)⁴ − Cs_written.
    public func expectedEvenZernike(reference: ReferenceVolume) -> [Double] {
        var even = evenZernike
        let f = SimulatedOpticsGroup.defocusFactor(reference: reference)
        let dCs = (trueCs * f * f - sphericalAberration) * 1e7
        if dCs != 0 {
            let lambda = electronWavelength(kilovolts: voltage)
            let z40 = Double.pi * lambda * lambda * lambda * dCs / 12
            if even.count < 7 { even += [Double](repeating: 0, count: 7 - even.count) }
            even[0] += 2 * z40
            even[2] += 3 * z40
            even[Zernike.z40Index] += z40
        }
        return even
    }

    /// The odd Zernike coefficients (rlnOddZernike) of the given odd terms and the beam tilt, with the
    /// beam tilt inserted as RELION's TiltHelper::insertTilt does (Z3±1 and the compensating Z1±1).
    public func expectedOddZernike() -> [Double] {
        var odd = oddZernike
        if beamTiltX != 0 || beamTiltY != 0 {
            if odd.count < 6 { odd += [Double](repeating: 0, count: 6 - odd.count) }
            let lambda = electronWavelength(kilovolts: voltage)
            let scale = sphericalAberration * 20000 * lambda * lambda * Double.pi
            let zx = -scale * beamTiltX / 3, zy = -scale * beamTiltY / 3
            odd[1] += 2 * zx
            odd[0] += 2 * zy
            odd[4] += zx
            odd[3] += zy
        }
        return odd
    }

    /// Checks the settings; `index` is the group's number for messages.
    public func validate(index: Int) throws {
        func bad(_ what: String) -> ParticleSimulationError { .invalidGroup(group: index, name: name, reason: what) }
        guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "\t" }) else { throw bad("the name must be one word") }
        guard nominalPixelSize > 0, nominalPixelSize.isFinite else { throw bad("the nominal pixel size must be positive") }
        guard truePixelSize > 0, truePixelSize.isFinite else { throw bad("the true pixel size must be positive") }
        guard boxSize >= 16, boxSize % 2 == 0 else { throw bad("the box must be even and at least 16 pixels (it is \(boxSize))") }
        guard particleCount >= 1 else { throw bad("needs at least one particle") }
        guard particlesPerMicrograph >= 1 else { throw bad("needs at least one particle per micrograph") }
        guard anisotropyPercent > -50, anisotropyPercent < 100, anisotropyPercent.isFinite else { throw bad("the anisotropy must be in (−50, 100) %") }
        guard voltage > 0, sphericalAberration >= 0, trueCs >= 0 else { throw bad("voltage must be positive and Cs not negative") }
        guard amplitudeContrast >= 0, amplitudeContrast < 1 else { throw bad("the amplitude contrast must be in [0, 1)") }
        guard defocusMin > 0, defocusMax >= defocusMin else { throw bad("the defocus range must be positive and ordered (Å)") }
        guard maxAstigmatism >= 0, particleDefocusSpread >= 0, defocusError >= 0 else { throw bad("astigmatism and defocus spreads must not be negative") }
        if let snr { guard snr > 0, snr.isFinite else { throw bad("the SNR must be positive") } }
        guard bFactor >= 0, maxOriginPixels >= 0 else { throw bad("the B-factor and the origin range must not be negative") }
        for v in evenZernike + oddZernike + [beamTiltX, beamTiltY] where !v.isFinite { throw bad("aberrations must be finite") }
        if let m = writtenMagMatrix, m.inverse == nil { throw bad("the written magnification matrix is singular") }
    }
}

/// The frequencies a written defocus refers to.
public enum DefocusFrame: String, Sendable, Codable, CaseIterable {
    /// The image's own, at the nominal pixel size with no magnification matrix: what CTFFIND finds
    /// (the k² term of the true CTF seen at the nominal pixel size: a pixel-size error scales the
    /// defocus by (p/t)², an anisotropic magnification adds astigmatism). The usual input to CtfRefine.
    case nominal
    /// The reference's, through the expected magnification matrix: what a complete refinement ends with.
    case reference
    /// Like `nominal`, but the defocus a CTF fit with the written Cs finds (least squares of the CTF
    /// at 30–3.5 Å, or to 2.5 × the nominal pixel size if coarser): the pixel-size error is then only
    /// partly absorbed, as in the reference text's 5000 → 5526 Å (0.54 Å/px believed, 0.51 true).
    case ctffind
}

/// One simulated particle: its parameters as written and the truth behind them.
public struct SimulatedParticle: Sendable, Codable, Equatable {
    /// Optics group number (from 1).
    public var opticsGroup: Int
    /// Index within the group (from 0).
    public var index: Int
    /// Micrograph number within the group (from 1) and position in its stack (from 1).
    public var micrograph: Int
    public var positionInStack: Int
    /// rlnAngleRot, rlnAngleTilt, rlnAnglePsi (degrees; the true pose).
    public var rot: Double
    public var tilt: Double
    public var psi: Double
    /// rlnOriginXAngst/YAngst (Å at the nominal pixel size; the true origin).
    public var originX: Double
    public var originY: Double
    /// rlnCoordinateX/Y on its micrograph (pixels).
    public var coordinateX: Double
    public var coordinateY: Double
    /// The true defocus at the specimen (Å) and astigmatism angle (degrees).
    public var trueDefocusU: Double
    public var trueDefocusV: Double
    public var defocusAngle: Double
    /// The defocus RELION should find, in the reference's frequencies: true × (p_r/t_r)².
    public var expectedDefocusU: Double
    public var expectedDefocusV: Double
    /// The defocus seen at the nominal pixel size without magnification matrix (DefocusFrame.nominal).
    public var nominalDefocusU: Double
    public var nominalDefocusV: Double
    public var nominalDefocusAngle: Double
    /// The defocus written to the STAR file (the group's `writtenDefocus` frame plus the simulated estimation error).
    public var writtenDefocusU: Double
    public var writtenDefocusV: Double
    public var writtenDefocusAngle: Double
    /// rlnRandomSubset (1 or 2).
    public var randomSubset: Int
}

/// Mixes integers into a well-spread seed (SplitMix64 steps), so that each particle's random numbers
/// depend only on the seed and its identity, not on the order of work.
func derivedSeed(_ parts: UInt64...) -> UInt64 {
    var g = SplitMix64(seed: 0x5EED_A96F_1C0D_E001)
    var h: UInt64 = 0
    for p in parts {
        g.state ^= p &+ h
        h = g.next()
    }
    return h
}

/// The projector and imaging model: makes the images of particles (see the file header).
public final class ParticleSimulator: @unchecked Sendable {
    /// The map the particles come from.
    public let reference: ReferenceVolume
    /// The padding factor of the map's transform.
    public let padding: Int
    /// The radius (Å) within which the map's density lies (1 % of its largest absolute value).
    public let contentRadius: Double
    let paddedSize: Int
    let spectrum: UnsafeMutableBufferPointer<Complex32>
    /// The largest usable map frequency in padded index units (below the map's Nyquist).
    let maxIndex: Double

    /// Prepares the padded, gridding-corrected transform of `reference`.
    public init(reference: ReferenceVolume, padding: Int = 2) throws {
        let n = reference.size
        guard n >= 8, reference.data.count == n * n * n else {
            throw ParticleSimulationError.invalidReference("the map must be cubic with at least 8 voxels along each edge (\(reference.data.count) values for size \(n))")
        }
        guard reference.truePixelSize > 0, reference.labelPixelSize > 0 else {
            throw ParticleSimulationError.invalidReference("the map's pixel sizes must be positive")
        }
        guard padding >= 1, padding <= 4 else { throw ParticleSimulationError.invalidReference("the padding factor must be 1 to 4") }
        self.reference = reference
        self.padding = padding
        let np = n * padding
        paddedSize = np
        // Content radius.
        var peak: Float = 0
        for v in reference.data { peak = max(peak, abs(v)) }
        guard peak > 0, peak.isFinite else { throw ParticleSimulationError.invalidReference("the map is empty (all zero) or not finite") }
        var r2max = 0
        let c = n / 2
        for z in 0..<n { for y in 0..<n { for x in 0..<n where abs(reference.data[(z * n + y) * n + x]) > 0.01 * peak {
            r2max = max(r2max, (x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c))
        } } }
        contentRadius = (Double(r2max).squareRoot() + 1) * reference.truePixelSize
        // Padded, gridding-corrected, centred at voxel 0 (the map's centre n/2 is the origin).
        var sincs = [Double](repeating: 1, count: n)
        for i in 0..<n {
            let d = Double(i - c) / Double(np)
            if d != 0 { let a = Double.pi * d; sincs[i] = (sin(a) / a) * (sin(a) / a) }
        }
        var padded = [Float](repeating: 0, count: np * np * np)
        for z in 0..<n {
            let zz = ((z - c) + np) % np
            for y in 0..<n {
                let yy = ((y - c) + np) % np
                for x in 0..<n {
                    let xx = ((x - c) + np) % np
                    let g = sincs[x] * sincs[y] * sincs[z]
                    padded[(zz * np + yy) * np + xx] = Float(Double(reference.data[(z * n + y) * n + x]) / g)
                }
            }
        }
        let plan = try RealFFTPlan(shape: [np, np, np])
        let buffer = UnsafeMutableBufferPointer<Complex32>.allocate(capacity: plan.spectrumCount)
        padded.withUnsafeBufferPointer { plan.forward($0, buffer) }
        spectrum = buffer
        maxIndex = Double(padding) * (Double(n / 2) - 1)
    }

    deinit { spectrum.deallocate() }

    /// The map's transform at padded index (x, y, z) (trilinear; zero beyond `maxIndex`).
    @inline(__always) func sample(_ x0: Double, _ y0: Double, _ z0: Double) -> (Double, Double) {
        var x = x0, y = y0, z = z0
        var sign = 1.0
        if x < 0 { x = -x; y = -y; z = -z; sign = -1 }
        let np = paddedSize, hx = np / 2 + 1
        let xi = Int(x), fx = x - Double(xi)
        let yf = y.rounded(.down), zf = z.rounded(.down)
        let fy = y - yf, fz = z - zf
        var yi = Int(yf) % np; if yi < 0 { yi += np }
        var zi = Int(zf) % np; if zi < 0 { zi += np }
        let yi1 = yi + 1 == np ? 0 : yi + 1, zi1 = zi + 1 == np ? 0 : zi + 1
        let xi1 = min(xi + 1, hx - 1)
        @inline(__always) func at(_ a: Int, _ b: Int, _ c: Int) -> Complex32 { spectrum[(c * np + b) * hx + a] }
        func lerp(_ a: Complex32, _ b: Complex32, _ t: Double) -> (Double, Double) {
            (Double(a.re) + (Double(b.re) - Double(a.re)) * t, Double(a.im) + (Double(b.im) - Double(a.im)) * t)
        }
        let c00 = lerp(at(xi, yi, zi), at(xi1, yi, zi), fx)
        let c10 = lerp(at(xi, yi1, zi), at(xi1, yi1, zi), fx)
        let c01 = lerp(at(xi, yi, zi1), at(xi1, yi, zi1), fx)
        let c11 = lerp(at(xi, yi1, zi1), at(xi1, yi1, zi1), fx)
        let c0 = (c00.0 + (c10.0 - c00.0) * fy, c00.1 + (c10.1 - c00.1) * fy)
        let c1 = (c01.0 + (c11.0 - c01.0) * fy, c01.1 + (c11.1 - c01.1) * fy)
        return (c0.0 + (c1.0 - c0.0) * fz, sign * (c0.1 + (c1.1 - c0.1) * fz))
    }

    /// The side of the square field a group's particles are imaged on before boxing: large enough
    /// that the particle and the signal its CTF delocalises never wrap back into the box.
    public func fieldSize(for group: SimulatedOpticsGroup) -> Int {
        let lambda = electronWavelength(kilovolts: group.voltage)
        let a = (1 + max(0, group.anisotropyPercent) / 100).squareRoot()
        // Highest frequency with signal: the map's Nyquist or the detector's, whichever is lower (true 1/Å).
        let kmax = min(0.5 / reference.truePixelSize, 0.5 * a / group.truePixelSize)
        let dfmax = group.defocusMax + group.maxAstigmatism + 4 * group.particleDefocusSpread
        let deloc = lambda * dfmax * kmax + group.trueCs * 1e7 * lambda * lambda * lambda * kmax * kmax * kmax
        let need = Double(group.boxSize) / 2 + group.maxOriginPixels + (contentRadius * a + deloc) / group.truePixelSize + 8
        var p = max(group.boxSize, Int(need.rounded(.up)))
        p += p % 2
        while !ParticleSimulator.isSmooth(p) { p += 2 }
        return p
    }

    static func isSmooth(_ n: Int) -> Bool {
        var m = n
        for f in [2, 3, 5] { while m % f == 0 { m /= f } }
        return m == 1
    }

    /// What a group's images need, computed once.
    public struct GroupModel: Sendable {
        public let group: SimulatedOpticsGroup
        public let fieldSize: Int
        let distortion: Matrix2x2
        let even: ZernikeExpansion
        let odd: ZernikeExpansion
        let kappaScale: Double
        let amplitude: Double
        /// False for a perfect lens (no CTF, aberrations or envelope): the geometry alone, for checks.
        public let ctfEnabled: Bool
    }

    /// Prepares a group (the extra aberrations are those at the reference's frequencies).
    public func model(for group: SimulatedOpticsGroup, ctf: Bool = true) -> GroupModel {
        let d = group.distortion
        return GroupModel(group: group, fieldSize: fieldSize(for: group), distortion: d,
                          even: ZernikeExpansion(coefficients: group.evenZernike, odd: false),
                          odd: ZernikeExpansion(coefficients: group.expectedOddZernike(), odd: true),
                          kappaScale: reference.truePixelSize / reference.labelPixelSize,
                          amplitude: (reference.truePixelSize / group.truePixelSize) * (reference.truePixelSize / group.truePixelSize) * abs(d.determinant),
                          ctfEnabled: ctf)
    }

    /// The noise-free image (boxSize² values, x fastest) of `particle` in the group `model`.
    public func noiseFreeImage(_ particle: SimulatedParticle, model: GroupModel) throws -> [Float] {
        let g = model.group
        let p = model.fieldSize, s = g.boxSize, hx = p / 2 + 1
        let ctf = try CTF(CTFParameters(defocusU: particle.trueDefocusU, defocusV: particle.trueDefocusV,
                                        defocusAngle: particle.defocusAngle, voltage: g.voltage,
                                        sphericalAberration: g.trueCs, amplitudeContrast: g.amplitudeContrast))
        // A = Euler_angles2matrix(rot, tilt, psi) (RELION's src/euler.cpp).
        let (ca, sa) = (cos(particle.rot * .pi / 180), sin(particle.rot * .pi / 180))
        let (cb, sb) = (cos(particle.tilt * .pi / 180), sin(particle.tilt * .pi / 180))
        let (cg, sg) = (cos(particle.psi * .pi / 180), sin(particle.psi * .pi / 180))
        let a00 = cg * cb * ca - sg * sa, a01 = cg * cb * sa + sg * ca, a02 = -cg * sb
        let a10 = -sg * cb * ca - cg * sa, a11 = -sg * cb * sa + cg * ca, a12 = sg * sb
        let t = g.truePixelSize, d = model.distortion
        let toIndex = Double(paddedSize) * reference.truePixelSize   // true 1/Å → padded map index
        let kappa = model.kappaScale, b4 = g.bFactor / 4
        let qmax = maxIndex / toIndex
        // The particle's centre in the field.
        let cx = Double(p / 2) - particle.originX / g.nominalPixelSize
        let cy = Double(p / 2) - particle.originY / g.nominalPixelSize
        var ex = [(Double, Double)](repeating: (1, 0), count: hx)
        var ey = [(Double, Double)](repeating: (1, 0), count: p)
        for i in 0..<hx { let ph = -2 * Double.pi * Double(i) * cx / Double(p); ex[i] = (cos(ph), sin(ph)) }
        for j in 0..<p { let ph = -2 * Double.pi * Double(fourierFrequency(j, p)) * cy / Double(p); ey[j] = (cos(ph), sin(ph)) }
        var field = [Complex32](repeating: .zero, count: p * hx)
        let amp = model.amplitude
        let useCTF = model.ctfEnabled
        let hasEven = useCTF && !model.even.isEmpty, hasOdd = useCTF && !model.odd.isEmpty
        for j in 0..<p {
            let vy = Double(fourierFrequency(j, p)) / Double(p)
            for i in 0..<hx {
                let vx = Double(i) / Double(p)
                let qx = (d.m00 * vx + d.m10 * vy) / t, qy = (d.m01 * vx + d.m11 * vy) / t
                let q2 = qx * qx + qy * qy
                if q2 > qmax * qmax { continue }
                let (vr, vi) = sample((a00 * qx + a10 * qy) * toIndex, (a01 * qx + a11 * qy) * toIndex, (a02 * qx + a12 * qy) * toIndex)
                var c = amp
                if useCTF {
                    var gamma = ctf.gamma(x: qx, y: qy)
                    if hasEven { gamma += model.even.value(x: kappa * qx, y: kappa * qy) }
                    c *= -sin(gamma)
                    if b4 != 0 { c *= exp(-b4 * q2) }
                }
                // c · exp(iφ_odd) · shift
                var (wr, wi) = (ex[i].0 * ey[j].0 - ex[i].1 * ey[j].1, ex[i].0 * ey[j].1 + ex[i].1 * ey[j].0)
                if hasOdd {
                    let phi = model.odd.value(x: kappa * qx, y: kappa * qy)
                    let (cr, ci) = (cos(phi), sin(phi))
                    (wr, wi) = (wr * cr - wi * ci, wr * ci + wi * cr)
                }
                let (fr, fi) = (vr * wr - vi * wi, vr * wi + vi * wr)
                field[j * hx + i] = Complex32(Float(c * fr), Float(c * fi))
            }
        }
        let plan = try RealFFTPlan.cached(shape: [p, p])
        var image = [Float](repeating: 0, count: p * p)
        field.withUnsafeBufferPointer { f in image.withUnsafeMutableBufferPointer { plan.inverse(f, $0, threads: 1) } }
        let off = (p - s) / 2
        var box = [Float](repeating: 0, count: s * s)
        for y in 0..<s { for x in 0..<s { box[y * s + x] = image[(y + off) * p + x + off] } }
        return box
    }

    /// The noisy image: the noise-free one divided by `noiseSigma`, plus unit white noise drawn from `seed`.
    public func image(_ particle: SimulatedParticle, model: GroupModel, noiseSigma: Double, seed: UInt64) throws -> [Float] {
        var box = try noiseFreeImage(particle, model: model)
        var rng = SplitMix64(seed: derivedSeed(seed, UInt64(particle.opticsGroup), UInt64(particle.index), 7))
        let inv = 1 / noiseSigma
        for i in box.indices { box[i] = Float(Double(box[i]) * inv + rng.gaussian()) }
        return box
    }

    /// The specimen area one detector pixel of the group sees (Å²): t² / |det D|.
    public static func pixelArea(_ group: SimulatedOpticsGroup) -> Double {
        group.truePixelSize * group.truePixelSize / abs(group.distortion.determinant)
    }

    /// The noise standard deviation that gives the group's SNR (nil: 0.1), from the mean variance of the
    /// noise-free boxes of (up to) the group's first `sample` particles.
    public func noiseSigma(for particles: [SimulatedParticle], model: GroupModel, sample: Int = 16) throws -> Double {
        let chosen = Array(particles.prefix(sample))
        var variances = [Double](repeating: 0, count: chosen.count)
        var failure: Error? = nil
        let lock = NSLock()
        variances.withUnsafeMutableBufferPointer { buf in
            nonisolated(unsafe) let out = buf.baseAddress!
            parallelForEach(chosen.count) { i in
                do {
                    let img = try self.noiseFreeImage(chosen[i], model: model)
                    let mean = img.reduce(0.0) { $0 + Double($1) } / Double(img.count)
                    out[i] = img.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(img.count)
                } catch { lock.lock(); failure = error; lock.unlock() }
            }
        }
        if let failure { throw failure }
        let v = variances.reduce(0, +) / Double(max(1, variances.count))
        guard v > 0 else { throw ParticleSimulationError.invalidReference("the noise-free images are empty (is the map's content inside the box?)") }
        return (v / (model.group.snr ?? 0.1)).squareRoot()
    }

    /// The defocus (U ≥ V, Å; angle in degrees) whose k² term equals the true CTF's at the nominal
    /// frequencies k: the quadratic form A (RELION's, from U, V, angle) seen through q = (p/t) Dᵀ k.
    public static func nominalDefocus(u: Double, v: Double, angle: Double, group: SimulatedOpticsGroup) -> (u: Double, v: Double, angle: Double) {
        let az = angle * Double.pi / 180, c = cos(az), s = sin(az)
        let axx = -(c * c * u + s * s * v), axy = -c * s * (u - v), ayy = -(s * s * u + c * c * v)
        let d = group.distortion, f = group.nominalPixelSize / group.truePixelSize
        // T = f Dᵀ; B = Tᵀ A T = f² D A Dᵀ.
        let t00 = f * d.m00, t01 = f * d.m10, t10 = f * d.m01, t11 = f * d.m11
        let at00 = axx * t00 + axy * t10, at01 = axx * t01 + axy * t11
        let at10 = axy * t00 + ayy * t10, at11 = axy * t01 + ayy * t11
        let bxx = t00 * at00 + t10 * at10, bxy = t00 * at01 + t10 * at11, byy = t01 * at01 + t11 * at11
        let m = (bxx + byy) / 2, r = (((bxx - byy) / 2) * ((bxx - byy) / 2) + bxy * bxy).squareRoot()
        // −U is the smaller eigenvalue; its direction is 90° from that of the larger.
        var theta = 0.5 * atan2(2 * bxy, bxx - byy) * 180 / Double.pi + 90
        if r < 1e-9 * abs(m) { theta = angle }
        if theta >= 180 { theta -= 180 }
        return (r - m, -m - r, theta)
    }

    /// The particles of group number `groupNumber` (from 1): poses, origins, micrographs, defocus,
    /// all drawn from `seed` (each from the seed and its own identity).
    public func particles(group: SimulatedOpticsGroup, groupNumber: Int, seed: UInt64) throws -> [SimulatedParticle] {
        let f = SimulatedOpticsGroup.defocusFactor(reference: reference)
        var out: [SimulatedParticle] = []
        out.reserveCapacity(group.particleCount)
        let perMic = group.particlesPerMicrograph
        var micDefocus = 0.0, micAstig = 0.0, micAngle = 0.0, micRatio = 1.0
        for i in 0..<group.particleCount {
            let mic = i / perMic + 1
            if i % perMic == 0 {
                var r = SplitMix64(seed: derivedSeed(seed, UInt64(groupNumber), UInt64(mic), 1))
                micDefocus = r.uniform(group.defocusMin, group.defocusMax)
                micAstig = r.uniform(0, group.maxAstigmatism)
                micAngle = r.uniform(0, 180)
                if group.writtenDefocus == .ctffind {
                    // The Cs-fixed fit over the exact scaling of the defocus (p/t)².
                    let fit = try PixelSizeErrorSimulation(
                        defocus: micDefocus, sphericalAberration: group.trueCs, voltage: group.voltage,
                        trueAngpix: group.truePixelSize, nominalAngpix: group.nominalPixelSize,
                        amplitudeContrast: group.amplitudeContrast, fitFrom: 30, fitTo: max(3.5, 2.5 * group.nominalPixelSize),
                        fitModes: [.defocus]).run()
                    let exact = micDefocus * (group.nominalPixelSize / group.truePixelSize) * (group.nominalPixelSize / group.truePixelSize)
                    micRatio = (fit.fit(.defocus)?.defocus ?? exact) / exact
                }
            }
            var r = SplitMix64(seed: derivedSeed(seed, UInt64(groupNumber), UInt64(i), 2))
            let rot = r.uniform(-180, 180), psi = r.uniform(-180, 180)
            let tilt = acos(r.uniform(-1, 1)) * 180 / Double.pi
            let ox = r.uniform(-group.maxOriginPixels, group.maxOriginPixels) * group.nominalPixelSize
            let oy = r.uniform(-group.maxOriginPixels, group.maxOriginPixels) * group.nominalPixelSize
            let height = group.particleDefocusSpread * r.gaussian()
            let u = micDefocus + micAstig / 2 + height, v = micDefocus - micAstig / 2 + height
            let eu = group.defocusError * r.gaussian(), ev = group.defocusError * r.gaussian()
            let margin = Double(group.boxSize)
            let cx = r.uniform(margin, 4096 - margin), cy = r.uniform(margin, 4096 - margin)
            let nominal = ParticleSimulator.nominalDefocus(u: u, v: v, angle: micAngle, group: group)
            let (wu, wv, wa): (Double, Double, Double)
            switch group.writtenDefocus {
            case .nominal: (wu, wv, wa) = nominal
            case .ctffind: (wu, wv, wa) = (nominal.u * micRatio, nominal.v * micRatio, nominal.angle)
            case .reference: (wu, wv, wa) = (u * f, v * f, micAngle)
            }
            out.append(SimulatedParticle(opticsGroup: groupNumber, index: i, micrograph: mic, positionInStack: i % perMic + 1,
                                         rot: rot, tilt: tilt, psi: psi, originX: ox, originY: oy,
                                         coordinateX: cx.rounded(), coordinateY: cy.rounded(),
                                         trueDefocusU: u, trueDefocusV: v, defocusAngle: micAngle,
                                         expectedDefocusU: u * f, expectedDefocusV: v * f,
                                         nominalDefocusU: nominal.u, nominalDefocusV: nominal.v, nominalDefocusAngle: nominal.angle,
                                         writtenDefocusU: wu + eu, writtenDefocusV: wv + ev, writtenDefocusAngle: wa,
                                         randomSubset: i % 2 + 1))
        }
        return out
    }
}
