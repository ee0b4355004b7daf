// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// RELION 3.1's CTF: wavelength, zeros against the analytic formula, and the effect of each term
// (astigmatism, amplitude contrast, phase shift, B-factor, scale, Zernike terms, magnification).

import Foundation
import Testing
@testable import AngpixOptics

@Test func testWavelengthIs0Point0197At300kVAnd0Point0251At200kV() {
    #expect(abs(electronWavelength(kilovolts: 300) - 0.0197) < 0.00005)
    #expect(abs(electronWavelength(kilovolts: 200) - 0.0251) < 0.00005)
    #expect(abs(electronWavelength(kilovolts: 300) - 0.019687) < 1e-6)
    #expect(abs(electronWavelength(kilovolts: 200) - 0.025079) < 1e-6)
    // Relativistic: below the classical 12.26/sqrt(V).
    #expect(electronWavelength(kilovolts: 300) < 12.2643247 / (300_000.0).squareRoot())
}

@Test func testCTFZerosMatchTheAnalyticFormula() throws {
    // With Q0 = 0 and no phase shift the CTF is −sin γ, γ = −π λ Δf k² + π/2 Cs λ³ k⁴; its zeros are
    // γ = −nπ, i.e. k² = (λΔf − sqrt(λ²Δf² − 2 n Cs λ³)) / (Cs λ³) for the branch below the Scherzer turn.
    let ctf = try CTF(CTFParameters(defocusU: 15000, voltage: 300, sphericalAberration: 2.7, amplitudeContrast: 0))
    let lambda = electronWavelength(kilovolts: 300)
    let df = 15000.0, cs = 2.7e7
    for n in 1...12 {
        let disc = lambda * lambda * df * df - 2 * Double(n) * cs * lambda * lambda * lambda
        let k = ((lambda * df - disc.squareRoot()) / (cs * lambda * lambda * lambda)).squareRoot()
        #expect(abs(ctf.value(x: k, y: 0)) < 1e-9, "zero \(n) at \(k)")
        // and the CTF changes sign there
        let before = ctf.value(x: k * 0.999, y: 0), after = ctf.value(x: k * 1.001, y: 0)
        #expect(before * after < 0)
        // in any direction (no astigmatism)
        #expect(abs(ctf.value(x: k * cos(1.0), y: k * sin(1.0))) < 1e-9)
    }
}

@Test func testAmplitudeContrastShiftsThePhaseByAtanQ0() throws {
    let a = try CTF(CTFParameters(defocusU: 10000, amplitudeContrast: 0.1))
    // At k = 0 the CTF is −sin(−K3) = Q0.
    #expect(abs(a.value(x: 0, y: 0) - 0.1) < 1e-12)
    let b = try CTF(CTFParameters(defocusU: 10000, amplitudeContrast: 0))
    #expect(abs(b.value(x: 0, y: 0)) < 1e-15)
    #expect(abs(a.gamma(x: 0.1, y: 0) - (b.gamma(x: 0.1, y: 0) - asin(0.1))) < 1e-12)
}

@Test func testPhaseShiftOf90DegreesTurnsSineIntoCosine() throws {
    let plain = try CTF(CTFParameters(defocusU: 5000, amplitudeContrast: 0))
    let shifted = try CTF(CTFParameters(defocusU: 5000, amplitudeContrast: 0, phaseShift: 90))
    for k in stride(from: 0.01, to: 0.3, by: 0.037) {
        #expect(abs(shifted.value(x: k, y: 0) - cos(plain.gamma(x: k, y: 0))) < 1e-12)
    }
    #expect(abs(shifted.value(x: 0, y: 0) - 1) < 1e-12)
}

@Test func testBFactorDampsAsExpMinusBOver4KSquaredAndScaleMultiplies() throws {
    let plain = try CTF(CTFParameters(defocusU: 8000))
    let damped = try CTF(CTFParameters(defocusU: 8000, bFactor: 100, scale: 0.5))
    for k in [0.05, 0.1, 0.2, 0.3] {
        let expected = 0.5 * plain.value(x: 0, y: k) * exp(-100.0 / 4 * k * k)
        #expect(abs(damped.value(x: 0, y: k) - expected) < 1e-12)
        #expect(abs(damped.value(x: 0, y: k, damping: false) - 0.5 * plain.value(x: 0, y: k)) < 1e-12)
    }
}

@Test func testAstigmatismGivesDefocusUAlongTheAngleAndDefocusVAcrossIt() throws {
    let astig = try CTF(CTFParameters(defocusU: 12000, defocusV: 9000, defocusAngle: 30))
    let u = try CTF(CTFParameters(defocusU: 12000))
    let v = try CTF(CTFParameters(defocusU: 9000))
    let a = 30.0 * Double.pi / 180
    for k in [0.07, 0.15, 0.25] {
        #expect(abs(astig.gamma(x: k * cos(a), y: k * sin(a)) - u.gamma(x: k, y: 0)) < 1e-9)
        #expect(abs(astig.gamma(x: -k * sin(a), y: k * cos(a)) - v.gamma(x: k, y: 0)) < 1e-9)
        // At 45° from U the defocus is the mean.
        let mean = try CTF(CTFParameters(defocusU: 10500))
        let b = a + Double.pi / 4
        #expect(abs(astig.gamma(x: k * cos(b), y: k * sin(b)) - mean.gamma(x: k, y: 0)) < 1e-9)
    }
}

@Test func testSphericalAberrationTermIsHalfPiCsLambdaCubedKToTheFourth() throws {
    let with = try CTF(CTFParameters(defocusU: 5000, sphericalAberration: 2.7, amplitudeContrast: 0))
    let without = try CTF(CTFParameters(defocusU: 5000, sphericalAberration: 0, amplitudeContrast: 0))
    let lambda = electronWavelength(kilovolts: 300)
    for k in [0.1, 0.3, 0.5] {
        let expected = Double.pi / 2 * 2.7e7 * pow(lambda, 3) * pow(k, 4)
        #expect(abs(with.gamma(x: k, y: 0) - without.gamma(x: k, y: 0) - expected) < 1e-9)
    }
}

@Test func testZernikeOrderFollowsRelion() {
    let even = (0..<9).map { Zernike.evenIndexToMN($0) }
    #expect(even.map(\.m) == [0, -2, 0, 2, -4, -2, 0, 2, 4])
    #expect(even.map(\.n) == [0, 2, 2, 2, 4, 4, 4, 4, 4])
    // Z40 is the 7th even coefficient.
    #expect(Zernike.evenIndexToMN(Zernike.z40Index) == (0, 4))
    let odd = (0..<6).map { Zernike.oddIndexToMN($0) }
    #expect(odd.map(\.m) == [-1, 1, -3, -1, 1, 3])
    #expect(odd.map(\.n) == [1, 1, 3, 3, 3, 3])
    for i in 0..<40 {
        let (m, n) = Zernike.evenIndexToMN(i)
        #expect(Zernike.evenIndex(m: m, n: n) == i)
        let (mo, no) = Zernike.oddIndexToMN(i)
        #expect(Zernike.oddIndex(m: mo, n: no) == i)
    }
}

@Test func testZernikeZ40Is6RhoToTheFourMinus6RhoSquaredPlus1() {
    for rho in [0.0, 0.1, 0.37, 1.0, 2.0] {
        #expect(abs(Zernike.radial(m: 0, n: 4, rho: rho) - (6 * pow(rho, 4) - 6 * rho * rho + 1)) < 1e-12)
    }
    // Z(2,2) = ρ² cos 2φ, Z(−2,2) = ρ² sin 2φ, Z(1,3) = (3ρ³ − 2ρ) cos φ.
    #expect(abs(Zernike.value(m: 2, n: 2, x: 0.3, y: 0.4) - 0.25 * cos(2 * atan2(0.4, 0.3))) < 1e-12)
    #expect(abs(Zernike.value(m: -2, n: 2, x: 0.3, y: 0.4) - 0.25 * sin(2 * atan2(0.4, 0.3))) < 1e-12)
    #expect(abs(Zernike.value(m: 1, n: 3, x: 0.3, y: 0.4) - (3 * 0.125 - 2 * 0.5) * 0.6) < 1e-12)
}

@Test func testEvenZernikeZ40ActsLikeExtraCs() throws {
    // A Z40 coefficient c adds 6c k⁴ − 6c k² + c to γ; its k⁴ part equals a Cs change of 12 c / (π λ³).
    let lambda = electronWavelength(kilovolts: 300)
    let c = 250.0
    var even = [Double](repeating: 0, count: 9)
    even[6] = c
    let z = try CTF(CTFParameters(defocusU: 5000, amplitudeContrast: 0, evenZernike: even))
    let plain = try CTF(CTFParameters(defocusU: 5000, amplitudeContrast: 0))
    let extraCsMM = 12 * c / (Double.pi * pow(lambda, 3)) * 1e-7
    let cs = try CTF(CTFParameters(defocusU: 5000, sphericalAberration: 2.7 + extraCsMM, amplitudeContrast: 0))
    for k in [0.1, 0.2, 0.4] {
        #expect(abs(z.gamma(x: k, y: 0) - plain.gamma(x: k, y: 0) - (6 * c * pow(k, 4) - 6 * c * k * k + c)) < 1e-9)
        #expect(abs((z.gamma(x: k, y: 0) - plain.gamma(x: k, y: 0)) - (cs.gamma(x: k, y: 0) - plain.gamma(x: k, y: 0)) - (c - 6 * c * k * k)) < 1e-6)
    }
}

@Test func testOddZernikeShiftsThePhaseOfTheImageNotTheCTF() throws {
    // Beam tilt: Z(1,3) and Z(1,1) odd terms. The real CTF is unchanged; the complex transfer rotates by φ.
    let odd = [0.0, 2.0, 0, 0, 30.0, 0]
    let tilted = try CTF(CTFParameters(defocusU: 5000, oddZernike: odd))
    let plain = try CTF(CTFParameters(defocusU: 5000))
    let (x, y) = (0.2, 0.1)
    #expect(tilted.value(x: x, y: y) == plain.value(x: x, y: y))
    let phi = 2.0 * Zernike.value(m: 1, n: 1, x: x, y: y) + 30 * Zernike.value(m: 1, n: 3, x: x, y: y)
    #expect(abs(tilted.oddPhase(x: x, y: y) - phi) < 1e-12)
    let z = tilted.complexValue(x: x, y: y)
    #expect(abs(z.re - plain.value(x: x, y: y) * cos(phi)) < 1e-12)
    #expect(abs(z.im - plain.value(x: x, y: y) * sin(phi)) < 1e-12)
    // Antisymmetric: φ(−k) = −φ(k).
    #expect(abs(tilted.oddPhase(x: -x, y: -y) + phi) < 1e-12)
}

@Test func testMagnificationMatrixScalesTheFrequencyBeforeEvaluation() throws {
    let m = Matrix2x2(1.02, 0.01, -0.005, 0.98)
    let mag = try CTF(CTFParameters(defocusU: 9000, defocusV: 8000, defocusAngle: 20, bFactor: 40, magMatrix: m))
    let plain = try CTF(CTFParameters(defocusU: 9000, defocusV: 8000, defocusAngle: 20, bFactor: 40))
    for (x, y) in [(0.1, 0.05), (-0.2, 0.13), (0.31, -0.02)] {
        let (X, Y) = m.apply(x, y)
        #expect(abs(mag.value(x: x, y: y) - plain.value(x: X, y: Y)) < 1e-12)
    }
    // An isotropic magnification of 1.045 is the same as a pixel size 1.045 times smaller.
    let iso = try CTF(CTFParameters(defocusU: 9000, magMatrix: .scale(1.045)))
    let same = try CTF(CTFParameters(defocusU: 9000))
    let a = try iso.halfComplexImage(nx: 64, ny: 64, pixelSize: 1.0)
    let b = try same.halfComplexImage(nx: 64, ny: 64, pixelSize: 1.0 / 1.045)
    #expect(zip(a, b).map { abs($0 - $1) }.max()! < 1e-5)
}

@Test func testSingularMagnificationMatrixIsRejected() {
    #expect(throws: OpticsError.self) {
        try CTF(CTFParameters(defocusU: 9000, magMatrix: Matrix2x2(1, 2, 2, 4)))
    }
    #expect(throws: OpticsError.self) { try CTF(CTFParameters(defocusU: 9000, amplitudeContrast: 1.2)) }
    #expect(throws: OpticsError.self) { try CTF(CTFParameters(defocusU: .nan)) }
    #expect(throws: OpticsError.self) { try CTF(CTFParameters(defocusU: 9000, voltage: 0)) }
}

@Test func testHalfComplexImageUsesTheFourierModuleLayout() throws {
    let ctf = try CTF(CTFParameters(defocusU: 12000, defocusV: 10000, defocusAngle: 40))
    let n = 48, px = 1.3
    let img = try ctf.halfComplexImage(nx: n, ny: n, pixelSize: px)
    #expect(img.count == n * (n / 2 + 1))
    let hx = n / 2 + 1
    for (j, i) in [(0, 0), (3, 5), (n - 3, 7), (n / 2, 10), (n - 1, hx - 1)] {
        let fy = Double(j <= n / 2 ? j : j - n) / (Double(n) * px)
        let fx = Double(i) / (Double(n) * px)
        #expect(abs(Double(img[j * hx + i]) - ctf.value(x: fx, y: fy)) < 1e-6)
    }
    let centred = try ctf.centredImage(size: n, pixelSize: px)
    // Point symmetry of the CTF: value at (i, j) equals value at the mirrored pixel.
    #expect(abs(centred[(n / 2 + 3) * n + n / 2 + 5] - centred[(n / 2 - 3) * n + n / 2 - 5]) < 1e-6)
    let profile = ctf.profile(frequencies: [0.05, 0.1], angle: 40)
    #expect(abs(profile[1] - (try CTF(CTFParameters(defocusU: 12000))).value(x: 0.1, y: 0)) < 1e-9)
}

@Test func testFastZernikeExpansionEqualsTheDirectSum() {
    let even = [0.3, 0.2, -0.3, 0.05, 1.5, -2.0, 3.0, 0.7, -0.4, 1, 2, 3, 4, 5, 6, 7]
    let odd = [1.0, -2, 3, 4, -5, 6, 0.5, 0.25, 0, 0, 1, 2]
    let e = ZernikeExpansion(coefficients: even, odd: false)
    let o = ZernikeExpansion(coefficients: odd, odd: true)
    for (x, y) in [(0.0, 0.0), (0.1, 0.0), (0.0, -0.2), (0.13, 0.27), (-0.31, 0.05), (-0.2, -0.4), (0.9, 1.3)] {
        #expect(abs(e.value(x: x, y: y) - Zernike.evenPhase(even, x: x, y: y)) < 1e-9)
        #expect(abs(o.value(x: x, y: y) - Zernike.oddPhase(odd, x: x, y: y)) < 1e-9)
    }
}
