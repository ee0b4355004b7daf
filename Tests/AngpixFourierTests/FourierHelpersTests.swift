// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the Fourier-space helpers: shells, radial averages, FSC, and Fourier crop/pad.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixFourier

@Test func shellIndexOfA4By4BoxIsRoundedRadius() throws {
    let s = try FourierShells(shape: [4, 4])
    #expect(s.spectrumShape == [4, 3])
    #expect(s.count == 3)
    // ky = 0, 1, 2, -1 by rows; kx = 0, 1, 2 by columns; round(sqrt(ky² + kx²)), −1 beyond 2.
    #expect(s.index == [0, 1, 2,
                        1, 1, 2,
                        2, 2, -1,
                        1, 1, 2])
    #expect(s.elementCounts == [1, 5, 5])
}

@Test func cubicShellIndexMatchesIntegerRadius() throws {
    let n = 10
    let s = try FourierShells(shape: [n, n, n])
    var e = 0
    for z in 0..<n { for y in 0..<n { for x in 0...(n / 2) {
        let kz = z <= n / 2 ? z : z - n, ky = y <= n / 2 ? y : y - n
        let r = Int(Double(kz * kz + ky * ky + x * x).squareRoot().rounded())
        #expect(Int(s.index[e]) == (r <= n / 2 ? r : -1))
        e += 1
    } } }
}

@Test func nonCubicShellsUseFrequencyInUnitsOfOneOverNx() throws {
    // [8, 4]: ky = 4 (Nyquist of an 8-pixel axis) is the same physical frequency as kx = 2.
    let s = try FourierShells(shape: [8, 4])
    #expect(s.count == 3)
    #expect(s.index[4 * 3 + 0] == 2)   // ky = 4, kx = 0
    #expect(s.index[2 * 3 + 0] == 1)   // ky = 2, kx = 0 → 0.25 of the sampling rate = 1/nx·1
    #expect(s.index[0 * 3 + 2] == 2)   // ky = 0, kx = 2
}

/// The FSC written out as in RELION's getFSC, in Double, for comparison.
func referenceFSC(_ a: [Complex32], _ b: [Complex32], n: Int) -> [Double] {
    var num = [Double](repeating: 0, count: n / 2 + 1), d1 = num, d2 = num
    var e = 0
    for z in 0..<n { for y in 0..<n { for x in 0...(n / 2) {
        let kz = z <= n / 2 ? z : z - n, ky = y <= n / 2 ? y : y - n
        let r = Int(Double(kz * kz + ky * ky + x * x).squareRoot().rounded())
        if r <= n / 2 {
            let p = a[e], q = b[e]
            num[r] += Double(p.re) * Double(q.re) + Double(p.im) * Double(q.im)
            d1[r] += Double(p.re) * Double(p.re) + Double(p.im) * Double(p.im)
            d2[r] += Double(q.re) * Double(q.re) + Double(q.im) * Double(q.im)
        }
        e += 1
    } } }
    return (0...(n / 2)).map { num[$0] / (d1[$0] * d2[$0]).squareRoot() }
}

@Test func fscMatchesRelionDefinition() throws {
    let n = 16
    let plan = try RealFFTPlan(shape: [n, n, n])
    let signal = randomFloats(plan.realCount, seed: 1)
    let noise1 = randomFloats(plan.realCount, seed: 2), noise2 = randomFloats(plan.realCount, seed: 3)
    let a = plan.forward(zip(signal, noise1).map { $0 + 0.8 * $1 })
    let b = plan.forward(zip(signal, noise2).map { $0 + 0.8 * $1 })
    let got = fsc(a, b, shape: [n, n, n])
    let expected = referenceFSC(a, b, n: n)
    #expect(got.count == n / 2 + 1)
    for (g, e) in zip(got, expected) { #expect(abs(g - e) < 1e-12) }
    // Signal variance 1/3 against noise 0.64/3: FSC ≈ 1/(1 + 0.64) on average.
    let mean = got[2...].reduce(0, +) / Double(got.count - 2)
    #expect(abs(mean - 1 / 1.64) < 0.08)
}

@Test func fscOfAMapWithItselfIsOneAndWithItsNegativeIsMinusOne() throws {
    let plan = try RealFFTPlan(shape: [12, 12])
    let a = plan.forward(randomFloats(144, seed: 8))
    let shells = try FourierShells(shape: [12, 12])
    #expect(shells.fsc(a, a).allSatisfy { abs($0 - 1) < 1e-9 })
    #expect(shells.fsc(a, a.map { -$0 }).allSatisfy { abs($0 + 1) < 1e-9 })
    #expect(shells.fsc(a, [Complex32](repeating: .zero, count: a.count)).allSatisfy { $0 == 0 })
}

@Test func radialAveragesOfConstantAndOfKnownPower() throws {
    let shells = try FourierShells(shape: [8, 8, 8])
    let ones = [Double](repeating: 2.5, count: shells.index.count)
    #expect(shells.radialAverage(ones).allSatisfy { $0 == 2.5 })
    // A spectrum whose amplitude equals the shell number.
    let spectrum = shells.index.map { Complex32(0, Float(max(0, $0))) }
    let amp = shells.radialAmplitude(spectrum)
    let pow = shells.radialPower(spectrum)
    for s in 0..<shells.count {
        #expect(abs(amp[s] - Double(s)) < 1e-6)
        #expect(abs(pow[s] - Double(s * s)) < 1e-4)
    }
    #expect(shells.elementCounts.reduce(0, +) == shells.index.filter { $0 >= 0 }.count)
}

@Test func realSpaceRadialAverageOfARadialFunction() {
    let n = 21
    var data = [Float](repeating: 0, count: n * n)
    for y in 0..<n { for x in 0..<n {
        let r = (Double((x - 10) * (x - 10) + (y - 10) * (y - 10))).squareRoot().rounded()
        data[y * n + x] = Float(r)
    } }
    let avg = realSpaceRadialAverage(data, shape: [n, n])
    #expect(avg.count == 11)
    for (r, v) in avg.enumerated() { #expect(abs(v - Double(r)) < 1e-9) }
}

/// Samples of a sum of cosines with integer frequencies (cycles per box) on an n×n grid.
func cosineImage(n: Int, waves: [(fy: Int, fx: Int, amp: Double, phase: Double)]) -> [Float] {
    var img = [Float](repeating: 0, count: n * n)
    for y in 0..<n { for x in 0..<n {
        var v = 0.0
        for w in waves {
            v += w.amp * cos(2 * Double.pi * (Double(w.fy * y) / Double(n) + Double(w.fx * x) / Double(n)) + w.phase)
        }
        img[y * n + x] = Float(v)
    } }
    return img
}

@Test("Fourier cropping resamples a band-limited image onto a coarser grid",
      arguments: [(32, 16), (30, 20), (33, 21), (24, 10)])
func fourierCropResamplesBandLimitedImage(from n: Int, to m: Int) throws {
    let waves: [(fy: Int, fx: Int, amp: Double, phase: Double)] =
        [(0, 0, 1.5, 0), (1, 2, 1, 0.3), (-3, 1, 0.5, 1.1), (2, -4, 0.25, -0.7)]
    let big = try RealFFTPlan(shape: [n, n]), small = try RealFFTPlan(shape: [m, m])
    let cropped = try fourierWindow(big.forward(cosineImage(n: n, waves: waves)), shape: [n, n], newShape: [m, m])
    #expect(cropped.count == small.spectrumCount)
    let scale = Float(m * m) / Float(n * n)
    let image = small.inverse(cropped).map { $0 * scale }
    let expected = cosineImage(n: m, waves: waves)
    #expect(maxAbsDifference(image, expected) < 1e-5)
}

@Test("Fourier padding then cropping returns the original spectrum",
      arguments: [([16, 16], [24, 24]), ([15, 15], [20, 20]), ([8, 6, 10], [12, 9, 16]), ([7], [12])])
func fourierPadThenCropIsIdentity(shape: [Int], padded: [Int]) throws {
    let plan = try RealFFTPlan(shape: shape)
    // Every frequency of the small box (including +n/2 of an even axis) exists in the big one.
    var spectrum = plan.forward(randomFloats(plan.realCount, seed: 6))
    let up = try fourierWindow(spectrum, shape: shape, newShape: padded)
    let down = try fourierWindow(up, shape: padded, newShape: shape)
    #expect(down == spectrum)
    spectrum[0] = Complex32(1, 2)
    #expect(try fourierWindow(spectrum, shape: shape, newShape: shape) == spectrum)
}

@Test func fourierPaddingZeroFillsNewFrequencies() throws {
    // 4 → 8 in 1D: kx 0...2 copied, 3...4 zero.
    let s: [Complex32] = [Complex32(1, 0), Complex32(2, 3), Complex32(4, 0)]
    #expect(try fourierWindow(s, shape: [4], newShape: [8]) ==
            [Complex32(1, 0), Complex32(2, 3), Complex32(4, 0), .zero, .zero])
    // 2D 4×4 → 6×6: rows ky = 0, 1, 2, −1 go to rows 0, 1, 2, 5; rows 3, 4 (ky = 3, −2) are zero.
    let plan = try RealFFTPlan(shape: [4, 4])
    let x = plan.forward(randomFloats(16, seed: 2))
    let up = try fourierWindow(x, shape: [4, 4], newShape: [6, 6])
    let rowsFrom = [0: 0, 1: 1, 2: 2, 5: 3]
    for r in 0..<6 {
        for k in 0..<4 {
            let expected: Complex32 = (rowsFrom[r].map { k < 3 ? x[$0 * 3 + k] : .zero }) ?? .zero
            #expect(up[r * 4 + k] == expected)
        }
    }
}

@Test func fourierWindowRejectsMismatchedShapes() throws {
    #expect(throws: FourierError.invalidShape([4])) {
        try fourierWindow([Complex32](repeating: .zero, count: 9), shape: [4, 4], newShape: [4])
    }
    #expect(throws: FourierError.sizeMismatch(expected: 12, got: 9, what: "Fourier window input")) {
        try fourierWindow([Complex32](repeating: .zero, count: 9), shape: [4, 5], newShape: [4, 4])
    }
}

@Test func centreWindowCropsAndPadsAroundTheCentre() {
    let n = 6
    let image: [Float] = (0..<(n * n)).map { Float($0) }
    var crop = [Float](repeating: -1, count: 16)
    image.withUnsafeBufferPointer { i in crop.withUnsafeMutableBufferPointer { CentreWindow.apply(i, shape: [n, n], into: $0, newShape: [4, 4]) } }
    #expect(crop[0] == image[1 * n + 1] && crop[15] == image[4 * n + 4])
    var pad = [Float](repeating: -1, count: 64)
    image.withUnsafeBufferPointer { i in pad.withUnsafeMutableBufferPointer { CentreWindow.apply(i, shape: [n, n], into: $0, newShape: [8, 8]) } }
    #expect(pad[0] == 0 && pad[1 * 8 + 1] == image[0] && pad[6 * 8 + 6] == image[35] && pad[7 * 8 + 7] == 0)
}
