// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The projector against exact answers: the analytic Fourier transform of a blob map's projection,
// a real-space projection (RELION's ZYZ Euler angles and origin sign on an asymmetric object),
// another reference box and pixel size, and the gradient against finite differences.

import Foundation
import Testing
import AngpixFourier
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct ReferenceProjectorTests {
    static let object = BlobObject.asymmetric
    static let poses = [ParticlePose(rotDegrees: 0, tiltDegrees: 0, psiDegrees: 0),
                        ParticlePose(rotDegrees: 37, tiltDegrees: 71, psiDegrees: -128, originXAngstrom: 3.3, originYAngstrom: -5.1),
                        ParticlePose(rotDegrees: -150, tiltDegrees: 120, psiDegrees: 20, originXAngstrom: -2, originYAngstrom: 1.5)]

    /// Frequencies up to `fraction` of Nyquist.
    static func within(_ fraction: Double, box: Int) -> (Int) -> Bool {
        let hx = box / 2 + 1
        return { i in
            let row = i / hx, x = i % hx
            let f = Double(fourierFrequency(row, box)), r2 = Double(x * x) + f * f
            return r2 <= fraction * fraction * Double(box * box) / 4
        }
    }

    @Test func projectionMatchesTheAnalyticTransform() throws {
        let box = 40, p = 1.25
        let projector = try ReferenceProjector(map: Self.object.map(box: box, pixelSize: p))
        for pose in Self.poses {
            let pred = projector.project(pose: pose, boxSize: box, pixelSize: p)
            let exact = Self.object.analyticSpectrum(pose, box: box, pixelSize: p, mapPixelSize: p, reference: box)
            let e50 = relativeError(pred.values, exact, include: Self.within(0.5, box: box))
            let e80 = relativeError(pred.values, exact, include: Self.within(0.8, box: box))
            printMeasured("projector error to 0.5 Nyquist", e50)
            printMeasured("projector error to 0.8 Nyquist", e80)
            #expect(e50 < 0.03)
            #expect(e80 < 0.03)
        }
    }

    @Test func eulerAnglesAndOriginFollowARealSpaceProjection() throws {
        let box = 40, p = 1.25
        let projector = try ReferenceProjector(map: Self.object.map(box: box, pixelSize: p))
        let plan = try RealFFTPlan(shape: [box, box])
        for pose in Self.poses {
            let image = Self.object.realSpaceProjection(pose, box: box, pixelSize: p, mapPixelSize: p)
            let spectrum = plan.forward(image).map { $0 * (1 / Float(box * box)) }
            let pred = projector.project(pose: pose, boxSize: box, pixelSize: p)
            let e = relativeError(pred.values, spectrum, include: Self.within(0.5, box: box))
            printMeasured("projector vs real-space projection", e)
            #expect(e < 0.03)
            // The mirrored pose (psi + 180° is a different in-plane rotation) must not match.
            var other = pose
            other.psiDegrees += 90
            let wrong = projector.project(pose: other, boxSize: box, pixelSize: p)
            #expect(relativeError(wrong.values, spectrum, include: Self.within(0.5, box: box)) > 0.3)
        }
    }

    @Test func anotherReferenceBoxAndPixelSize() throws {
        // Particles 32 px at 1.5 Å (48 Å); the reference 60 voxels at 1.0 Å.
        let box = 32, p = 1.5, refBox = 60, refP = 1.0
        let projector = try ReferenceProjector(map: Self.object.map(box: refBox, pixelSize: refP))
        for pose in Self.poses {
            let pred = projector.project(pose: pose, boxSize: box, pixelSize: p)
            let exact = Self.object.analyticSpectrum(pose, box: box, pixelSize: p, mapPixelSize: refP, reference: refBox)
            let e = relativeError(pred.values, exact, include: Self.within(0.8, box: box))
            printMeasured("projector error, other reference grid", e)
            #expect(e < 0.02)
        }
    }

    @Test func magnificationScalesTheFrequencies() throws {
        // M = 1.02·I seen on the same grid: the prediction at k is the slice at 1.02·k.
        let box = 40, p = 1.25
        let projector = try ReferenceProjector(map: Self.object.map(box: box, pixelSize: p))
        let pose = Self.poses[1]
        let pred = projector.project(pose: pose, boxSize: box, pixelSize: p, magMatrix: .scale(1.02))
        // The same as a particle grid of pixel size p/1.02 with the shift kept in Å of the old grid.
        let exact = Self.object.analyticSpectrum(pose, box: box, pixelSize: p / 1.02, mapPixelSize: p, reference: box)
        // The ramp differs: the projector shifts by the origin at k, the analytic form at 1.02·k.
        let hx = box / 2 + 1, extent = Double(box) * p
        var fixed = exact
        for i in fixed.indices {
            let row = i / hx, x = i % hx
            let kx = Double(x) / extent, ky = Double(fourierFrequency(row, box)) / extent
            let ph = -2 * Double.pi * 0.02 * (kx * pose.originXAngstrom + ky * pose.originYAngstrom)
            fixed[i] = fixed[i] * Complex32(Float(cos(ph)), Float(sin(ph)))
        }
        let e = relativeError(pred.values, fixed, include: Self.within(0.7, box: box))
        printMeasured("projector error with M = 1.02 I", e)
        #expect(e < 0.03)
    }

    @Test func gradientMatchesFiniteDifferences() throws {
        let box = 32, p = 1.5
        let projector = try ReferenceProjector(map: Self.object.map(box: box, pixelSize: p))
        let pose = Self.poses[2]
        let eps = 1e-4
        let g = projector.project(pose: pose, boxSize: box, pixelSize: p, gradient: true)
        let hx = box / 2 + 1, extent = Double(box) * p
        // d/dε f((I + ε E) k) = ∇f · (E k): E = e_xx gives gx·kx, E = e_yx gives gy·kx.
        for (e00, e10, useX) in [(1.0, 0.0, true), (0.0, 1.0, false)] {
            let plus = projector.project(pose: pose, boxSize: box, pixelSize: p,
                                         magMatrix: Matrix2x2(1 + eps * e00, 0, eps * e10, 1))
            let minus = projector.project(pose: pose, boxSize: box, pixelSize: p,
                                          magMatrix: Matrix2x2(1 - eps * e00, 0, -eps * e10, 1))
            var fd = [Complex32](repeating: .zero, count: plus.values.count)
            var an = fd
            for i in fd.indices {
                fd[i] = (plus.values[i] - minus.values[i]) * Float(1 / (2 * eps))
                let kx = Float(Double(i % hx) / extent)
                an[i] = (useX ? g.gradientX![i] : g.gradientY![i]) * kx
            }
            let e = relativeError(an, fd, include: Self.within(0.8, box: box))
            printMeasured("gradient vs finite differences", e)
            #expect(e < 0.02)
        }
        // And with no gradient asked for, the values are the same.
        let v = projector.project(pose: pose, boxSize: box, pixelSize: p)
        #expect(v.values == g.values && v.gradientX == nil)
    }

    @Test func limitedRadiusKeepsTheLowFrequencies() throws {
        let box = 40, p = 1.25
        let map = Self.object.map(box: box, pixelSize: p)
        let full = try ReferenceProjector(map: map)
        let small = try ReferenceProjector(map: map, maximumFrequency: 0.2)
        #expect(small.radius < full.radius)
        let pose = Self.poses[1]
        let a = full.project(pose: pose, boxSize: box, pixelSize: p).values
        let b = small.project(pose: pose, boxSize: box, pixelSize: p).values
        // 0.2 1/Å is 0.5 of Nyquist (0.4 1/Å) here.
        #expect(relativeError(b, a, include: Self.within(0.5, box: box)) < 1e-6)
    }

    @Test func onlyTheWeightedFrequenciesAreComputed() throws {
        let box = 32, p = 1.5
        let projector = try ReferenceProjector(map: Self.object.map(box: box, pixelSize: p))
        var w = FrequencyWeights(boxSize: box, values: [Float](repeating: 0, count: box * (box / 2 + 1)))
        for i in stride(from: 0, to: w.values.count, by: 3) { w.values[i] = 0.5 }
        let all = projector.project(pose: Self.poses[1], boxSize: box, pixelSize: p, gradient: true)
        let some = projector.project(pose: Self.poses[1], boxSize: box, pixelSize: p, gradient: true, only: w)
        for i in w.values.indices {
            let expected = w.values[i] != 0
            #expect(some.values[i] == (expected ? all.values[i] : .zero))
            #expect(some.gradientX![i] == (expected ? all.gradientX![i] : .zero))
        }
    }
}
