// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The magnification pipeline end to end on small simulated sets (noise-free, so the answers are
// sharp): inputs, streaming, weights, the (placeholder) fit, the outputs, shards and their merge,
// and the bad inputs the issue lists.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixMRC
import AngpixTestSupport
@testable import AngpixRefine

func anisotropic(percent: Double, axisDegrees: Double, scale: Double = 1) -> Matrix2x2 {
    let t = axisDegrees * Double.pi / 180, c = cos(t), s = sin(t)
    let a = 1 + percent / 200, b = 1 - percent / 200
    // R(t) diag(a, b) R(−t), times the scale.
    return Matrix2x2(scale * (a * c * c + b * s * s), scale * (a - b) * c * s,
                     scale * (a - b) * c * s, scale * (a * s * s + b * c * c))
}

@Suite struct MagnificationPipelineTests {
    static let groups = [
        SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .scale(1.02), particles: 40),
        SyntheticGroup(box: 40, pixelSize: 1.2, trueMatrix: anisotropic(percent: 1.5, axisDegrees: 30), particles: 40),
        SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 30),
    ]

    func source(_ set: SyntheticParticleSet) -> ReferenceSource {
        ReferenceSource(half1: set.folder + "/half1.mrc", half2: set.folder + "/half2.mrc", fsc: set.postprocess)
    }

    func options(_ set: SyntheticParticleSet, iterations: Int = 3) -> MagnificationOptions {
        var o = MagnificationOptions()
        o.iterations = iterations
        // The synthetic particles' CTF is the file's defocus at the true matrix (a defocus already
        // refined in the reference's frame), the case --keep-astig is for: no carrying between passes.
        o.keepAstigmatism = true
        o.stream.projectDirectory = set.folder
        return o
    }

    @Test func findsScaleAndAnisotropy() throws {
        let dir = TemporaryDirectory("refine-mag")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: Self.groups)
        let particles = try RefineParticles(path: set.star)
        let reference = try source(set).load()
        let (matrices, summary) = try refineMagnification(particles: particles, reference: reference, options: options(set))
        #expect(summary.particles == 110)
        let g1 = summary.groups[0], g2 = summary.groups[1], g3 = summary.groups[2]
        printMeasured("group 1 scale (truth 1.02)", g1.scale)
        printMeasured("group 2 anisotropy % (truth 1.5)", g2.anisotropyPercent)
        printMeasured("group 2 axis (truth 30)", g2.anisotropyAxisDegrees)
        printMeasured("group 3 anisotropy % (truth 0)", g3.anisotropyPercent)
        #expect(abs(g1.scale - 1.02) < 2e-4)
        // M = 1.02 maps the observed frequencies 2 % up to the reference's: the particles' pixels
        // are truly 1/1.02 of the nominal 1.00 Å.
        #expect(abs(g1.impliedPixelSize - 1 / 1.02) < 2e-4)
        #expect(g1.anisotropyPercent < 0.02)
        // The truth in the decomposition's conventions: (σmax/σmin − 1) = 1.511 %, the axis of
        // least magnification 90° from the stretch's 30°.
        let truth2 = MagnificationDecomposition(Self.groups[1].trueMatrix)
        #expect(abs(g2.anisotropyPercent - truth2.anisotropyPercent) < 0.03)
        #expect(abs(g2.anisotropyAxisDegrees - truth2.majorAxisAngle) < 1)
        #expect(abs(g2.scale - 1) < 2e-4)
        #expect(abs(g3.scale - 1) < 1e-4 && g3.anisotropyPercent < 0.02)
        for (m, g) in zip(matrices, Self.groups) {
            let t = g.trueMatrix
            #expect(abs(m!.m00 - t.m00) < 3e-4 && abs(m!.m01 - t.m01) < 3e-4 && abs(m!.m10 - t.m10) < 3e-4 && abs(m!.m11 - t.m11) < 3e-4)
        }
    }

    @Test func composesWithAMatrixAlreadyInTheFile() throws {
        // The file says 1.01; the truth is 1.02: the result must be 1.02, not 1.01 · 1.02.
        let dir = TemporaryDirectory("refine-compose")
        let group = SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .scale(1.02), fileMatrix: .scale(1.01), particles: 30)
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [group])
        let particles = try RefineParticles(path: set.star)
        let (matrices, summary) = try refineMagnification(particles: particles, reference: try source(set).load(), options: options(set))
        printMeasured("composed scale (truth 1.02)", summary.groups[0].scale)
        #expect(abs(matrices[0]!.m00 - 1.02) < 2e-4 && abs(matrices[0]!.m01) < 2e-4)
        #expect(summary.groups[0].oldMatrix == [1.01, 0, 0, 1.01])
        // Written into data_optics; only the optics matrix and the defocus columns change.
        try applyMagnification(to: particles, matrices: matrices, keepAstigmatism: false)
        let out = dir.file("out.star")
        try particles.file.document.write(to: out, policy: OutputPolicy())
        let again = try RefineParticles(path: out)
        let m = try #require(again.optics.groups[0].magMatrix)
        #expect(abs(m.m00 - 1.02) < 2e-4)
        #expect(again.records.count == particles.records.count)
        #expect(again.records[0].image == particles.records[0].image)
    }

    @Test func defocusIsCarriedIntoTheNewCoordinates() {
        // The defocus term on the observed frequencies stays the same.
        let old = Matrix2x2.identity, new = anisotropic(percent: 2, axisDegrees: 20, scale: 1.01)
        let c = carryDefocus(u: 15000, v: 14000, angleDegrees: 35, old: old, new: new)
        func term(_ u: Double, _ v: Double, _ a: Double, _ m: Matrix2x2, _ kx: Double, _ ky: Double) -> Double {
            let t = a * Double.pi / 180, (x, y) = m.apply(kx, ky)
            let pu = cos(t) * x + sin(t) * y, pv = -sin(t) * x + cos(t) * y
            return u * pu * pu + v * pv * pv
        }
        for (kx, ky) in [(0.1, 0.0), (0.0, 0.1), (0.07, -0.05), (0.03, 0.2)] {
            let before = term(15000, 14000, 35, old, kx, ky), after = term(c.u, c.v, c.angle, new, kx, ky)
            #expect(abs(before - after) < 1e-9 * before)
        }
        #expect(c.u > c.v)
    }

    @Test func shardsAddUpToASingleRun() throws {
        let dir = TemporaryDirectory("refine-shards")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: Array(Self.groups.prefix(2)))
        let particles = try RefineParticles(path: set.star)
        let reference = try source(set).load()
        let weights = groupWeights(particles, reference, kminAngstrom: 20)
        var settings = StreamSettings()
        settings.projectDirectory = set.folder
        settings.gradients = true
        let (whole, _) = try streamObservations(particles: particles, reference: reference, settings: settings,
                                                make: { MagnificationAccumulator(weights: weights) })
        var merged = MagnificationAccumulator(weights: weights)
        var seen = 0
        for i in 1...3 {
            settings.shard = i; settings.shardCount = 3
            let (part, summary) = try streamObservations(particles: particles, reference: reference, settings: settings,
                                                         make: { MagnificationAccumulator(weights: weights) })
            seen += summary.particles
            // Through JSON, as the shard files carry them.
            let decoded = try JSONDecoder().decode(MagnificationAccumulator.self, from: encodeJSON(part))
            try merged.merge(decoded)
        }
        #expect(seen == particles.records.count)
        for (g, halves) in whole.groups {
            for h in 0..<2 {
                let a = halves[h], b = merged.groups[g]![h]
                #expect(a.particleCount == b.particleCount && a.weightSum == b.weightSum)
                let whole = a.axx + a.axy + a.ayy + a.bx + a.by + a.ff + a.bf
                let parts = b.axx + b.axy + b.ayy + b.bx + b.by + b.ff + b.bf
                let worst = zip(whole, parts).map { abs($0 - $1) / max(abs($0), 1e-30) }.max() ?? 0
                #expect(worst <= 1e-9, "largest relative difference \(worst)")
            }
        }
    }

    @Test func tooFewParticlesKeepTheMatrix() throws {
        let dir = TemporaryDirectory("refine-few")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .scale(1.02), particles: 30),
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .scale(1.02), particles: 5)])
        let particles = try RefineParticles(path: set.star)
        let (matrices, summary) = try refineMagnification(particles: particles, reference: try source(set).load(),
                                                          options: options(set, iterations: 1))
        #expect(summary.groups[1].kept?.contains("5 particles, fewer than the 20 needed") == true)
        #expect(matrices[1] == nil)
        #expect(matrices[0] != nil)
    }

    @Test func missingLabelsSayWhoWritesThem() throws {
        let dir = TemporaryDirectory("refine-labels")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 4)])
        let text = try String(contentsOfFile: set.star, encoding: .utf8)
        for (label, says) in [("rlnRandomSubset", "Refine3D writes it"), ("rlnAngleTilt", "Refine3D writes it"),
                              ("rlnOriginXAngst", "Refine3D writes it"), ("rlnMicrographName", "Extract")] {
            let broken = text.replacingOccurrences(of: "_\(label) ", with: "_rlnSomethingElse\(label.count) ")
            let path = dir.write("broken.star", broken)
            do {
                _ = try RefineParticles(path: path)
                Issue.record("no error for a missing \(label)")
            } catch {
                let message = "\(error)"
                #expect(message.contains(label) && message.contains(says) && message.contains("broken.star"), "\(message)")
            }
        }
    }

    @Test func missingStackOrImageNamesTheFileAndRow() throws {
        let dir = TemporaryDirectory("refine-stack")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 12)])
        let reference = try source(set).load()
        // An image index beyond the stack.
        let text = try String(contentsOfFile: set.star, encoding: .utf8)
        let beyond = dir.write("beyond.star", text.replacingOccurrences(of: "3@Stacks/mic1.mrcs", with: "33@Stacks/mic1.mrcs"))
        do {
            _ = try refineMagnification(particles: RefineParticles(path: beyond), reference: reference, options: options(set, iterations: 1))
            Issue.record("no error for image 33 of a stack of 10")
        } catch {
            let m = "\(error)"
            #expect(m.contains("beyond.star") && m.contains("particle 3") && m.contains("Stacks/mic1.mrcs") && m.contains("33"), "\(m)")
        }
        try FileManager.default.removeItem(atPath: dir.path + "/Stacks/mic2.mrcs")
        do {
            _ = try refineMagnification(particles: RefineParticles(path: set.star), reference: reference, options: options(set, iterations: 1))
            Issue.record("no error for a missing stack")
        } catch {
            let m = "\(error)"
            #expect(m.contains("particles.star") && m.contains("particle 11") && m.contains("Stacks/mic2.mrcs") && m.contains("no such file"), "\(m)")
        }
    }

    @Test func halfMapsMustAgree() throws {
        let dir = TemporaryDirectory("refine-halves")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 2)])
        let small = BlobObject.asymmetric.map(box: 40, pixelSize: 1.0)
        try AngpixMRCWrite.write(small, to: dir.file("small.mrc"))
        let other = BlobObject.asymmetric.map(box: 48, pixelSize: 1.1)
        try AngpixMRCWrite.write(other, to: dir.file("other.mrc"))
        for (file, words) in [("small.mrc", "box"), ("other.mrc", "voxel size")] {
            do {
                _ = try ReferenceSource(half1: set.folder + "/half1.mrc", half2: dir.file(file), fsc: set.postprocess).load()
                Issue.record("no error for \(file)")
            } catch {
                let m = "\(error)"
                #expect(m.contains(file) && m.contains(words), "\(m)")
            }
        }
        do {
            _ = try ReferenceSource(half1: set.folder + "/half1.mrc", half2: set.folder + "/half2.mrc", mask: dir.file("small.mrc")).load()
            Issue.record("no error for a mask of another box")
        } catch {
            #expect("\(error)".contains("does not match the half maps"))
        }
    }

    @Test func weightsFollowKminAndTheFSC() throws {
        let dir = TemporaryDirectory("refine-weights")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 2)])
        let reference = try source(set).load()
        // Reference 48 at 1 Å: the FSC is 1 to shell 19 (19/48 1/Å), 0 beyond.
        let w = reference.weights(boxSize: 64, pixelSize: 0.8, kminAngstrom: 20)
        let hx = 33
        func at(_ i: Int, _ row: Int) -> Float { w.values[row * hx + i] }
        #expect(at(1, 0) == 0)            // 1/51.2 Å < 1/20
        #expect(at(3, 0) == 1)            // 1/17 Å
        #expect(at(10, 0) == 1)           // 0.195 1/Å: shell 9
        #expect(at(24, 0) == 0)           // 0.469 1/Å: shell 23, beyond the FSC's 0.143 crossing (20)
        #expect(at(32, 0) == 0)
    }
}

/// Writes a map (test helper).
enum AngpixMRCWrite {
    static func write(_ map: AngpixMRC.MRCMap, to path: String) throws {
        try AngpixMRC.MRCFile.write(map, to: path, policy: OutputPolicy(overwrite: true))
    }
}
