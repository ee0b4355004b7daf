// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The contrast transfer function as RELION 3.1 computes it (src/ctf.h CTF::getCTF, src/ctf.cpp
// CTF::initialise, src/jaz/single_particle/obs_model.cpp getGammaOffset / getPhaseCorrection):
//
//   k' = M k                                   (anisotropic magnification, rlnMagMat00…11)
//   γ(k') = K1 · k'ᵀ A k' + K2 |k'|⁴ − K5 − K3 + Σ evenZernikeᵢ Zᵢ(k')
//     K1 = π λ,  K2 = π/2 · Cs · λ³ (Cs in Å),  K3 = atan(Q0 / √(1 − Q0²)),  K5 = phase shift (rad)
//     A = Rᵀ diag(−ΔfU, −ΔfV) R with R the rotation by the astigmatism angle (so for ΔfU = ΔfV = Δf,
//     K1 k'ᵀ A k' = −π λ Δf |k'|²: underfocus is positive defocus)
//   CTF(k) = −scale · sin γ · exp(−B/4 · |k'|²)
//   odd aberrations: RELION multiplies the image's Fourier component by exp(i φ), φ = Σ oddZernikeᵢ Zᵢ(k').
// Frequencies are in 1/Å. RELION additionally replaces |CTF| < 1e-8 by ±1e-8 (a guard against
// division by zero in its GPU code); that is left out here.

import Foundation
import AngpixFourier

/// The CTF parameters of one particle or micrograph plus the optics of its group.
public struct CTFParameters: Sendable, Equatable, Codable {
    /// Defocus along U and V in Å (positive = underfocus).
    public var defocusU: Double
    public var defocusV: Double
    /// Astigmatism angle (between x and U) in degrees.
    public var defocusAngle: Double
    /// Accelerating voltage in kV.
    public var voltage: Double
    /// Spherical aberration in mm.
    public var sphericalAberration: Double
    /// Amplitude contrast Q0 (0 ≤ Q0 < 1).
    public var amplitudeContrast: Double
    /// Additional phase shift (phase plate) in degrees.
    public var phaseShift: Double
    /// B-factor of the CTF envelope in Å².
    public var bFactor: Double
    /// Overall scale.
    public var scale: Double
    /// rlnEvenZernike coefficients in RELION's order (radians per Åⁿ).
    public var evenZernike: [Double]
    /// rlnOddZernike coefficients in RELION's order (radians per Åⁿ).
    public var oddZernike: [Double]
    /// rlnMagMat00…11, applied to the frequency before evaluation; nil = identity.
    public var magMatrix: Matrix2x2?

    public init(defocusU: Double, defocusV: Double? = nil, defocusAngle: Double = 0,
                voltage: Double = 300, sphericalAberration: Double = 2.7, amplitudeContrast: Double = 0.1,
                phaseShift: Double = 0, bFactor: Double = 0, scale: Double = 1,
                evenZernike: [Double] = [], oddZernike: [Double] = [], magMatrix: Matrix2x2? = nil) {
        self.defocusU = defocusU
        self.defocusV = defocusV ?? defocusU
        self.defocusAngle = defocusAngle
        self.voltage = voltage
        self.sphericalAberration = sphericalAberration
        self.amplitudeContrast = amplitudeContrast
        self.phaseShift = phaseShift
        self.bFactor = bFactor
        self.scale = scale
        self.evenZernike = evenZernike
        self.oddZernike = oddZernike
        self.magMatrix = magMatrix
    }
}

/// A CTF ready to evaluate: RELION's constants precomputed from `CTFParameters`.
public struct CTF: Sendable {
    public let parameters: CTFParameters
    /// The relativistic electron wavelength in Å.
    public let wavelength: Double
    // RELION's constants (see the file header).
    let k1: Double, k2: Double, k3: Double, k4: Double, k5: Double
    let axx: Double, axy: Double, ayy: Double
    let mag: Matrix2x2?
    let even: ZernikeExpansion
    let odd: ZernikeExpansion

    /// Checks the parameters (as RELION does: 0 ≤ Q0 < 1, a positive voltage, finite numbers)
    /// and precomputes the constants.
    public init(_ p: CTFParameters) throws {
        let named: [(String, Double)] = [("defocusU", p.defocusU), ("defocusV", p.defocusV),
                                         ("defocusAngle", p.defocusAngle), ("voltage", p.voltage),
                                         ("sphericalAberration", p.sphericalAberration),
                                         ("amplitudeContrast", p.amplitudeContrast), ("phaseShift", p.phaseShift),
                                         ("bFactor", p.bFactor), ("scale", p.scale)]
        for (name, v) in named where !v.isFinite {
            throw OpticsError.invalidParameter(name, v, "must be a finite number")
        }
        for (i, c) in p.evenZernike.enumerated() where !c.isFinite {
            throw OpticsError.invalidParameter("evenZernike[\(i)]", c, "must be a finite number")
        }
        for (i, c) in p.oddZernike.enumerated() where !c.isFinite {
            throw OpticsError.invalidParameter("oddZernike[\(i)]", c, "must be a finite number")
        }
        guard p.voltage > 0 else { throw OpticsError.invalidParameter("voltage", p.voltage, "must be positive (kV)") }
        guard p.amplitudeContrast >= 0, p.amplitudeContrast < 1 else {
            throw OpticsError.invalidParameter("amplitudeContrast", p.amplitudeContrast, "must be in [0, 1)")
        }
        if let m = p.magMatrix {
            guard [m.m00, m.m01, m.m10, m.m11].allSatisfy(\.isFinite), m.inverse != nil else {
                throw OpticsError.invalidParameter("magMatrix determinant", m.determinant, "the magnification matrix must be invertible")
            }
        }
        parameters = p
        let lambda = electronWavelength(kilovolts: p.voltage)
        wavelength = lambda
        k1 = Double.pi * lambda
        k2 = Double.pi / 2 * (p.sphericalAberration * 1e7) * lambda * lambda * lambda
        let q0 = p.amplitudeContrast
        k3 = atan(q0 / (1 - q0 * q0).squareRoot())
        k4 = -p.bFactor / 4
        k5 = p.phaseShift * Double.pi / 180
        let az = p.defocusAngle * Double.pi / 180
        let c = cos(az), s = sin(az)
        // A = Qᵀ D Q with Q = [c s; −s c], D = diag(−ΔfU, −ΔfV).
        let du = -p.defocusU, dv = -p.defocusV
        axx = c * c * du + s * s * dv
        axy = c * s * (du - dv)
        ayy = s * s * du + c * c * dv
        mag = p.magMatrix.flatMap { $0 == .identity ? nil : $0 }
        even = ZernikeExpansion(coefficients: p.evenZernike, odd: false)
        odd = ZernikeExpansion(coefficients: p.oddZernike, odd: true)
    }

    @inline(__always) func transformed(_ x: Double, _ y: Double) -> (Double, Double) {
        guard let m = mag else { return (x, y) }
        return (m.m00 * x + m.m01 * y, m.m10 * x + m.m11 * y)
    }

    /// The phase γ at frequency (x, y) in 1/Å, including the even Zernike terms.
    public func gamma(x: Double, y: Double) -> Double {
        let (X, Y) = transformed(x, y)
        let u2 = X * X + Y * Y
        var g = k1 * (axx * X * X + 2 * axy * X * Y + ayy * Y * Y) + k2 * u2 * u2 - k5 - k3
        if !even.isEmpty { g += even.value(x: X, y: Y) }
        return g
    }

    /// The CTF value at frequency (x, y) in 1/Å; `damping` applies the B-factor envelope.
    public func value(x: Double, y: Double, damping: Bool = true) -> Double {
        var v = -sin(gamma(x: x, y: y))
        if damping && k4 != 0 {
            let (X, Y) = transformed(x, y)
            v *= exp(k4 * (X * X + Y * Y))
        }
        return parameters.scale * v
    }

    /// The odd-aberration phase φ at (x, y) (radians); RELION multiplies the image by exp(i φ).
    public func oddPhase(x: Double, y: Double) -> Double {
        guard !odd.isEmpty else { return 0 }
        let (X, Y) = transformed(x, y)
        return odd.value(x: X, y: Y)
    }

    /// The complete transfer at (x, y): CTF · exp(i φ_odd), as (real, imaginary).
    public func complexValue(x: Double, y: Double, damping: Bool = true) -> (re: Double, im: Double) {
        let v = value(x: x, y: y, damping: damping)
        let phi = oddPhase(x: x, y: y)
        return (v * cos(phi), v * sin(phi))
    }

    /// The CTF along a line through the origin at `angle` degrees from the x axis, at the given
    /// spatial frequencies (1/Å).
    public func profile(frequencies: [Double], angle: Double = 0, damping: Bool = true) -> [Double] {
        let a = angle * Double.pi / 180
        let c = cos(a), s = sin(a)
        return frequencies.map { value(x: $0 * c, y: $0 * s, damping: damping) }
    }

    /// The CTF on the half-complex grid of an `nx` × `ny` image at `pixelSize` Å: `ny` rows of
    /// `nx/2 + 1` values, row-major; the frequency of index k along an axis of n is fourierFrequency(k, n) / (n · pixelSize)
    /// (the layout of the Fourier module and of RELION's getFftwImage).
    public func halfComplexImage(nx: Int, ny: Int, pixelSize: Double, damping: Bool = true) throws -> [Float] {
        guard nx > 0, ny > 0 else { throw OpticsError.invalidParameter("box size", Double(min(nx, ny)), "must be positive") }
        guard pixelSize > 0, pixelSize.isFinite else { throw OpticsError.invalidParameter("pixel size", pixelSize, "must be positive (Å)") }
        let hx = nx / 2 + 1
        var out = [Float](repeating: 0, count: hx * ny)
        let xs = Double(nx) * pixelSize, ys = Double(ny) * pixelSize
        for j in 0..<ny {
            let fy = Double(fourierFrequency(j, ny)) / ys
            for i in 0..<hx {
                out[j * hx + i] = Float(value(x: Double(i) / xs, y: fy, damping: damping))
            }
        }
        return out
    }

    /// The CTF on the full, centred grid of an `n` × `n` image (origin at (n/2, n/2)), row-major,
    /// for looking at (RELION's getCenteredImage).
    public func centredImage(size n: Int, pixelSize: Double, damping: Bool = true) throws -> [Float] {
        guard n > 0 else { throw OpticsError.invalidParameter("box size", Double(n), "must be positive") }
        guard pixelSize > 0, pixelSize.isFinite else { throw OpticsError.invalidParameter("pixel size", pixelSize, "must be positive (Å)") }
        var out = [Float](repeating: 0, count: n * n)
        let box = Double(n) * pixelSize
        for j in 0..<n {
            for i in 0..<n {
                out[j * n + i] = Float(value(x: Double(i - n / 2) / box, y: Double(j - n / 2) / box, damping: damping))
            }
        }
        return out
    }

    /// The isotropic phase −π λ Δf k² + π/2 Cs λ³ k⁴ − K5 − K3 at |k| = `frequency` for defocus
    /// `defocus` (Å) and Cs `cs` (mm); the building block of the pixel-size error analysis.
    public static func isotropicGamma(frequency k: Double, defocus: Double, cs: Double,
                                      wavelength lambda: Double, offset: Double = 0) -> Double {
        let k2 = k * k
        return -Double.pi * lambda * defocus * k2 + Double.pi / 2 * cs * 1e7 * lambda * lambda * lambda * k2 * k2 - offset
    }

    /// K3 + K5: the constant phase of amplitude contrast and phase shift (radians).
    public var constantPhase: Double { k3 + k5 }
}
