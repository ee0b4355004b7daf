// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of RealFFTPlan against a direct DFT computed in Double, round trips, thread/batch
// consistency, and numpy's rfftn/irfftn (run as a python3 subprocess where numpy is installed).

import Foundation
import Testing
import AngpixCore
import AngpixTestSupport
@testable import AngpixFourier

/// Deterministic pseudo-random values in [-1, 1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(rng.uniform(-1, 1)) }
}

/// The multidimensional DFT of a real array, in Double, done as direct O(n²) DFTs along each
/// axis; returns the half-complex part [..., nx/2+1] as (re, im) pairs.
func directRealDFT(_ x: [Float], shape: [Int]) -> [(Double, Double)] {
    var data = x.map { (Double($0), 0.0) }
    directDFTInPlace(&data, shape: shape, sign: -1)
    let nx = shape.last!, nxh = nx / 2 + 1
    let rows = x.count / nx
    var out: [(Double, Double)] = []
    out.reserveCapacity(rows * nxh)
    for r in 0..<rows { for k in 0..<nxh { out.append(data[r * nx + k]) } }
    return out
}

/// In-place direct complex DFT along every axis with exponent sign `sign`.
func directDFTInPlace(_ data: inout [(Double, Double)], shape: [Int], sign: Double) {
    var step = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        let n = shape[axis]
        let outer = data.count / (n * step)
        var line = [(Double, Double)](repeating: (0, 0), count: n)
        for o in 0..<outer {
            for i in 0..<step {
                let base = o * n * step + i
                for k in 0..<n {
                    var re = 0.0, im = 0.0
                    for j in 0..<n {
                        let angle = sign * 2 * Double.pi * Double((j * k) % n) / Double(n)
                        let (a, b) = data[base + j * step]
                        re += a * cos(angle) - b * sin(angle)
                        im += a * sin(angle) + b * cos(angle)
                    }
                    line[k] = (re, im)
                }
                for k in 0..<n { data[base + k * step] = line[k] }
            }
        }
        step *= n
    }
}

/// max |a − b| / max |b| over a spectrum.
func relativeError(_ a: [Complex32], _ b: [(Double, Double)]) -> Double {
    var err = 0.0, scale = 1e-30
    for (u, v) in zip(a, b) {
        err = max(err, hypot(Double(u.re) - v.0, Double(u.im) - v.1))
        scale = max(scale, hypot(v.0, v.1))
    }
    return err / scale
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
}

let oneDimensionalSizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 16, 25, 49, 64, 97, 100, 121, 128, 140,
                           143, 180, 194, 200, 202, 256, 360, 1009]
let multiDimensionalShapes: [[Int]] = [
    [1, 1], [2, 3], [3, 2], [5, 7], [8, 6], [9, 10], [16, 15], [12, 64], [1, 97], [97, 2], [13, 11],
    [3, 4, 5], [7, 6, 9], [8, 8, 8], [12, 10, 14], [5, 1, 4], [1, 1, 7], [2, 2, 2], [11, 6, 13], [4, 9, 3],
]

@Test("Forward 1D transform matches a direct DFT", arguments: oneDimensionalSizes)
func forward1DMatchesDirectDFT(n: Int) throws {
    let plan = try RealFFTPlan(shape: [n])
    #expect(plan.spectrumShape == [n / 2 + 1])
    let x = randomFloats(n, seed: UInt64(n))
    let err = relativeError(plan.forward(x), directRealDFT(x, shape: [n]))
    #expect(err < 2e-6, "n=\(n): relative error \(err)")
}

@Test("Forward 2D/3D transform matches a direct DFT", arguments: multiDimensionalShapes)
func forwardMultiDMatchesDirectDFT(shape: [Int]) throws {
    let plan = try RealFFTPlan(shape: shape)
    let x = randomFloats(plan.realCount, seed: UInt64(plan.realCount) + 7)
    let y = plan.forward(x)
    #expect(y.count == plan.spectrumCount)
    let err = relativeError(y, directRealDFT(x, shape: shape))
    #expect(err < 2e-6, "shape \(shape): relative error \(err)")
}

@Test("Inverse of forward returns the input (1D, 2D, 3D)",
      arguments: oneDimensionalSizes.map { [$0] } + multiDimensionalShapes + [[256, 256], [100, 140], [64, 48, 36]])
func roundTripReturnsInput(shape: [Int]) throws {
    let plan = try RealFFTPlan(shape: shape)
    let x = randomFloats(plan.realCount, seed: 99)
    let back = plan.inverse(plan.forward(x))
    let err = maxAbsDifference(back, x)
    #expect(err < 5e-6, "shape \(shape): max error \(err)")
}

@Test("Inverse transform matches a direct inverse DFT of a Hermitian spectrum",
      arguments: [[8], [9], [97], [6, 10], [5, 7], [4, 3, 6], [3, 5, 7]])
func inverseMatchesDirectInverseDFT(shape: [Int]) throws {
    let plan = try RealFFTPlan(shape: shape)
    // A Hermitian spectrum: the DFT of a real array computed directly in Double.
    let x = randomFloats(plan.realCount, seed: 5)
    var full = x.map { (Double($0), 0.0) }
    directDFTInPlace(&full, shape: shape, sign: -1)
    let nx = shape.last!, nxh = nx / 2 + 1
    var half: [Complex32] = []
    for r in 0..<(plan.realCount / nx) {
        for k in 0..<nxh { half.append(Complex32(Float(full[r * nx + k].0), Float(full[r * nx + k].1))) }
    }
    // The direct inverse in Double of the full spectrum, divided by N.
    directDFTInPlace(&full, shape: shape, sign: 1)
    let expected = full.map { Float($0.0 / Double(plan.realCount)) }
    let got = plan.inverse(half)
    #expect(maxAbsDifference(got, expected) < 5e-6)
}

@Test func inverseIgnoresImaginaryPartsOfTheZeroAndNyquistColumns() throws {
    let plan = try RealFFTPlan(shape: [6, 8])
    let x = randomFloats(48, seed: 3)
    var spectrum = plan.forward(x)
    for r in 0..<6 { spectrum[r * 5].im += 1.5; spectrum[r * 5 + 4].im -= 2 }
    // numpy's irfftn drops the imaginary parts of the kx = 0 and kx = nx/2 columns after the
    // inverse over y. An imaginary offset constant over ky becomes, after that inverse, a purely
    // imaginary value at y = 0 in those columns, which is dropped: the result must not change.
    let back = plan.inverse(spectrum)
    #expect(maxAbsDifference(back, x) < 5e-6)
}

@Test func inputOfInverseIsNotModified() throws {
    let plan = try RealFFTPlan(shape: [6, 10, 12])
    let spectrum = plan.forward(randomFloats(plan.realCount, seed: 11))
    let copy = spectrum
    var out = [Float](repeating: 0, count: plan.realCount)
    spectrum.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { plan.inverse(s, $0) } }
    #expect(spectrum == copy)
}

@Test func multithreadedTransformsEqualSingleThreaded() throws {
    for shape in [[64, 64, 64], [33, 70, 90], [512, 300]] {
        let plan = try RealFFTPlan(shape: shape)
        let x = randomFloats(plan.realCount, seed: 21)
        var one = [Complex32](repeating: .zero, count: plan.spectrumCount)
        var two = one
        x.withUnsafeBufferPointer { xb in
            one.withUnsafeMutableBufferPointer { plan.forward(xb, $0, threads: 1) }
            two.withUnsafeMutableBufferPointer { plan.forward(xb, $0, threads: 2) }
        }
        #expect(one == two)
        var r1 = [Float](repeating: 0, count: plan.realCount), r2 = r1
        one.withUnsafeBufferPointer { s in
            r1.withUnsafeMutableBufferPointer { plan.inverse(s, $0, threads: 1) }
            r2.withUnsafeMutableBufferPointer { plan.inverse(s, $0, threads: 3) }
        }
        #expect(r1 == r2)
        #expect(maxAbsDifference(r1, x) < 5e-6)
    }
}

@Test func batchTransformsEqualOneByOne() throws {
    let plan = try RealFFTPlan(shape: [30, 36])
    let count = 7
    let x = randomFloats(count * plan.realCount, seed: 4)
    var batch = [Complex32](repeating: .zero, count: count * plan.spectrumCount)
    x.withUnsafeBufferPointer { xb in
        batch.withUnsafeMutableBufferPointer { plan.forward(batch: xb, $0, count: count, threads: 2) }
    }
    for i in 0..<count {
        let single = plan.forward(Array(x[(i * plan.realCount)..<((i + 1) * plan.realCount)]))
        #expect(Array(batch[(i * plan.spectrumCount)..<((i + 1) * plan.spectrumCount)]) == single)
    }
    var back = [Float](repeating: 0, count: x.count)
    batch.withUnsafeBufferPointer { s in
        back.withUnsafeMutableBufferPointer { plan.inverse(batch: s, $0, count: count, threads: 2) }
    }
    #expect(maxAbsDifference(back, x) < 5e-6)
}

@Test func cachedPlansAreReused() throws {
    let a = try RealFFTPlan.cached(shape: [10, 12])
    let b = try RealFFTPlan.cached(shape: [10, 12])
    #expect(a === b)
    #expect(a.spectrumShape == [10, 7])
    #expect(a.realCount == 120 && a.spectrumCount == 70)
}

@Test func invalidShapesAreRejected() {
    #expect(throws: FourierError.invalidShape([])) { try RealFFTPlan(shape: []) }
    #expect(throws: FourierError.invalidShape([4, 0])) { try RealFFTPlan(shape: [4, 0]) }
    #expect(throws: FourierError.invalidShape([-2])) { try RealFFTPlan(shape: [-2]) }
}

@Test func bluesteinLengthsMatchDirectDFT() throws {
    for n in [97, 2 * 97, 3 * 101, 4 * 61, 7 * 67] {
        let plan = try RealFFTPlan(shape: [n])
        let x = randomFloats(n, seed: 17)
        let err = relativeError(plan.forward(x), directRealDFT(x, shape: [n]))
        #expect(err < 3e-6, "n=\(n): relative error \(err)")
    }
}
