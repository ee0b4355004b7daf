// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of RELION-style Fourier rescaling (Fourier/Rescale.swift): box arithmetic, centre windows,
// Fourier cropping and padding of band-limited signals, and the batched stack driver.

import Foundation
import Testing
import AngpixCore
import AngpixFourier
import AngpixTestSupport

@Suite struct RescaleTargetTests {
    @Test func testNewBoxIsRoundedAndMadeEven() throws {
        // 32 px at 1.5 Å to 1.7 Å: 28.24 → 28; reached 32 × 1.5 / 28 = 1.714 Å (RELION prints the same).
        let t = try RescaleTarget(oldBox: 32, oldPixelSize: 1.5, requested: 1.7)
        #expect(t.newBox == 28)
        #expect(abs(t.pixelSize - 1.7142857142857142) < 1e-12)
        // 33 px at 1.3 Å to 1.0 Å: 42.9 → 43 → 42 (odd results drop one).
        let u = try RescaleTarget(oldBox: 33, oldPixelSize: 1.3, requested: 1.0)
        #expect(u.newBox == 42)
        #expect(abs(u.pixelSize - 33 * 1.3 / 42) < 1e-12)
        // Rounding half away from zero, as RELION's ROUND: 25 × 1.0 / 2.0 = 12.5 → 13 → 12.
        #expect(try RescaleTarget(oldBox: 25, oldPixelSize: 1, requested: 2).newBox == 12)
    }

    @Test func testBadPixelSizesAndTinyBoxesAreRefused() {
        #expect(throws: RescaleError.nonPositivePixelSize(0)) { try RescaleTarget(oldBox: 32, oldPixelSize: 0, requested: 1) }
        #expect(throws: RescaleError.nonPositiveTargetPixelSize(-1)) { try RescaleTarget(oldBox: 32, oldPixelSize: 1, requested: -1) }
        #expect(throws: RescaleError.rescaledBoxTooSmall(oldBox: 32, newBox: 0)) { try RescaleTarget(oldBox: 32, oldPixelSize: 1, requested: 40) }
        #expect(throws: RescaleError.oddBox(31)) { try RescalePlan(shape: [32, 32], pixelSize: 1, newPixelSize: nil, box: 31) }
        #expect(throws: RescaleError.boxTooSmall(0)) { try RescalePlan(shape: [32, 32], pixelSize: 1, newPixelSize: nil, box: 0) }
        #expect(throws: RescaleError.notCubic(nx: 32, ny: 32, nz: 30)) { try RescalePlan(shape: [30, 32, 32], pixelSize: 1, newPixelSize: 2, box: nil) }
    }

    @Test func testNonSquareImagePlanUsesReachedPixelSize() throws {
        // 48 × 40 at 1 Å to 1.3 Å: square side 48 → 36.9 → 36 (1.333 Å); sides 36 × 30.
        let p = try RescalePlan(shape: [40, 48], pixelSize: 1, newPixelSize: 1.3, box: nil)
        #expect(p.target?.newBox == 36)
        #expect(p.outputShape == [30, 36])
        #expect(abs(p.outputPixelSize - 48.0 / 36.0) < 1e-12)
    }
}

@Suite struct CentreWindowTests {
    @Test func testCentrePixelStaysAtTheCentre() {
        // 5 → 8: index 2 (5/2) lands on 4 (8/2); padding with zeros.
        let out = CentreWindow.apply([1, 2, 3, 4, 5], shape: [5], newShape: [8])
        #expect(out == [0, 0, 1, 2, 3, 4, 5, 0])
        // 8 → 4: index 4 lands on 2.
        #expect(CentreWindow.apply([0, 1, 2, 3, 4, 5, 6, 7], shape: [8], newShape: [4]) == [2, 3, 4, 5])
        // 2D: a 4 × 4 image cropped to 2 × 2 keeps rows/columns 1...2.
        let img: [Float] = (0..<16).map(Float.init)
        #expect(CentreWindow.apply(img, shape: [4, 4], newShape: [2, 2]) == [5, 6, 9, 10])
    }
}

@Suite struct FourierResizerTests {
    /// A band-limited 3D test signal sampled on a cube of side n (frequencies well below Nyquist).
    func signal(_ n: Int) -> [Float] {
        var v = [Float](repeating: 0, count: n * n * n)
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            let fx = Double(x) / Double(n), fy = Double(y) / Double(n), fz = Double(z) / Double(n)
            v[(z * n + y) * n + x] = Float(0.7 + cos(2 * .pi * 2 * fx) + 0.5 * sin(2 * .pi * (fy + 3 * fz)))
        } } }
        return v
    }

    @Test(arguments: [(32, 24), (32, 48), (33, 40), (30, 16)])
    func testBandLimitedSignalIsResampledExactly(n: Int, m: Int) throws {
        let r = try FourierResizer(size: n, newSize: m, dimensions: 3, threads: 2)
        let out = r.resize(signal(n))
        let expected = signal(m)
        var err = 0.0, norm = 0.0
        for i in 0..<out.count { err += Double(out[i] - expected[i]) * Double(out[i] - expected[i]); norm += Double(expected[i] * expected[i]) }
        #expect((err / norm).squareRoot() < 1e-5)
    }

    @Test func testMeanIsKeptIn2D() throws {
        var g = SplitMix64(seed: 7)
        let n = 40
        let img = (0..<(n * n)).map { _ in Float(3 + g.unit()) }
        let mean = img.reduce(0.0) { $0 + Double($1) } / Double(img.count)
        for m in [20, 34, 64] {
            let out = try FourierResizer(size: n, newSize: m, dimensions: 2).resize(img)
            let newMean = out.reduce(0.0) { $0 + Double($1) } / Double(out.count)
            #expect(abs(newMean - mean) < 1e-5)
        }
    }

    @Test func testStackDriverEqualsImageByImage() throws {
        var g = SplitMix64(seed: 3)
        let n = 24, count = 37
        let images = (0..<(count * n * n)).map { _ in Float(g.unit() - 0.5) }
        let plan = try RescalePlan(shape: [n, n], pixelSize: 1.0, newPixelSize: 1.4, box: 20)
        var collected: [Float] = []
        final class Reports: @unchecked Sendable { var done: [Int] = [] }
        let reports = Reports()
        try rescaleStack(plan: plan, count: count, batchSize: 5, read: { range, buffer in
            for (k, i) in (range.lowerBound * n * n..<range.upperBound * n * n).enumerated() { buffer[k] = images[i] }
        }, write: { collected += Array($0) }, progress: { done, _ in reports.done.append(done) })
        #expect(collected.count == count * 20 * 20)
        #expect(reports.done.last == count)
        let single = try Rescaler(plan: plan)
        for i in [0, 5, 36] {
            let one = single.apply(Array(images[(i * n * n)..<((i + 1) * n * n)]))
            #expect(Array(collected[(i * 400)..<((i + 1) * 400)]) == one)
        }
    }
}
