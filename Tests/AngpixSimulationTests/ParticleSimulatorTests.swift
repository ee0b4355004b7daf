// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The particle simulator against independent checks: the geometry of a particle imaged at a wrong
// pixel size and with anisotropic magnification (moments of the image), the origin convention,
// relion_project on the written STAR file (poses, origins, defocus and CTF as RELION reads them),
// the written project and its truth, and `calibrate zernike` on the truth's Z40 (the reference
// text's route from Z40 to the pixel size).

import Foundation
import Testing
import AngpixCore
import AngpixOptics
import AngpixFourier
import AngpixMRC
import AngpixSTAR
import AngpixTestSupport
import AngpixSimulation

/// An asymmetric map of smooth Gaussian blobs (σ 1.5–2.5 voxels, within ±0.17 n of the centre).
func blobMap(size n: Int, pixelSize: Double, seed: UInt64 = 5) -> ReferenceVolume {
    var rng = SplitMix64(seed: seed)
    var data = [Float](repeating: 0, count: n * n * n)
    let c = Double(n / 2)
    for _ in 0..<14 {
        let centre = (0..<3).map { _ in c + rng.uniform(-0.17, 0.17) * Double(n) }
        let sigma = rng.uniform(1.5, 2.5), height = rng.uniform(0.5, 1.5)
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            let dx = Double(x) - centre[0], dy = Double(y) - centre[1], dz = Double(z) - centre[2]
            let r2 = dx * dx + dy * dy + dz * dz
            if r2 < 25 * sigma * sigma { data[(z * n + y) * n + x] += Float(height * exp(-r2 / (2 * sigma * sigma))) }
        } } }
    }
    return ReferenceVolume(size: n, truePixelSize: pixelSize, data: data)
}

/// Sum, centroid and covariance (pixels) of an image.
func moments(_ img: [Float], size s: Int) -> (sum: Double, cx: Double, cy: Double, cxx: Double, cxy: Double, cyy: Double) {
    var m0 = 0.0, mx = 0.0, my = 0.0
    for y in 0..<s { for x in 0..<s { let v = Double(img[y * s + x]); m0 += v; mx += v * Double(x); my += v * Double(y) } }
    let cx = mx / m0, cy = my / m0
    var xx = 0.0, xy = 0.0, yy = 0.0
    for y in 0..<s { for x in 0..<s {
        let v = Double(img[y * s + x]), dx = Double(x) - cx, dy = Double(y) - cy
        xx += v * dx * dx; xy += v * dx * dy; yy += v * dy * dy
    } }
    return (m0, cx, cy, xx / m0, xy / m0, yy / m0)
}

func correlation(_ a: [Float], _ b: [Float]) -> Double {
    let n = Double(a.count)
    let ma = a.reduce(0.0) { $0 + Double($1) } / n, mb = b.reduce(0.0) { $0 + Double($1) } / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in a.indices {
        let x = Double(a[i]) - ma, y = Double(b[i]) - mb
        sab += x * y; saa += x * x; sbb += y * y
    }
    return sab / (saa * sbb).squareRoot()
}

@Suite("Particle simulator")
struct ParticleSimulatorTests {
    @Test("A 2 % pixel-size error and 1.5 % anisotropy at 30° shrink and stretch the particle as the truth says")
    func geometry() throws {
        let sim = try ParticleSimulator(reference: blobMap(size: 40, pixelSize: 1.0))
        let plain = SimulatedOpticsGroup(name: "g", nominalPixelSize: 1.0, boxSize: 64, particleCount: 1)
        var distorted = plain
        distorted.truePixelSize = 1.02
        distorted.anisotropyPercent = 1.5
        distorted.anisotropyAxis = 30
        var p = try sim.particles(group: plain, groupNumber: 1, seed: 3)[0]
        p.originX = 0; p.originY = 0
        let a = moments(try sim.noiseFreeImage(p, model: sim.model(for: plain, ctf: false)), size: 64)
        let b = moments(try sim.noiseFreeImage(p, model: sim.model(for: distorted, ctf: false)), size: 64)
        // The pixel-area factor: each pixel samples the same contrast, the particle covers (1/1.02)² as many pixels.
        #expect(abs(b.sum / a.sum - 1 / (1.02 * 1.02)) < 1e-3)
        // Covariance: C' = (1/t)² D C Dᵀ.
        let d = distorted.distortion
        let s = 1 / (1.02 * 1.02)
        let dc00 = d.m00 * a.cxx + d.m01 * a.cxy, dc01 = d.m00 * a.cxy + d.m01 * a.cyy
        let dc10 = d.m10 * a.cxx + d.m11 * a.cxy, dc11 = d.m10 * a.cxy + d.m11 * a.cyy
        let pxx = s * (dc00 * d.m00 + dc01 * d.m01), pxy = s * (dc00 * d.m10 + dc01 * d.m11), pyy = s * (dc10 * d.m10 + dc11 * d.m11)
        let trace = a.cxx + a.cyy
        printMeasured("covariance deviation from (1/t)² D C Dᵀ (fraction of the trace)", max(abs(b.cxx - pxx), abs(b.cxy - pxy), abs(b.cyy - pyy)) / trace)
        #expect(abs(b.cxx - pxx) / trace < 1.5e-3)
        #expect(abs(b.cxy - pxy) / trace < 1.5e-3)
        #expect(abs(b.cyy - pyy) / trace < 1.5e-3)
        // The distortion is several times larger than that tolerance, so a wrong geometry fails.
        #expect(abs(b.cxx - a.cxx) / trace > 6e-3)
        // Centred on the box centre s/2 without an origin.
        #expect(abs(b.cx - a.cx) < 0.05 && abs(b.cy - a.cy) < 0.05)
    }

    @Test("The particle's centre lies at s/2 − rlnOrigin / pixel size, as in RELION")
    func originConvention() throws {
        let sim = try ParticleSimulator(reference: blobMap(size: 40, pixelSize: 1.25))
        let g = SimulatedOpticsGroup(name: "g", nominalPixelSize: 1.25, boxSize: 64, particleCount: 1)
        var p = try sim.particles(group: g, groupNumber: 1, seed: 9)[0]
        p.originX = 0; p.originY = 0
        let a = moments(try sim.noiseFreeImage(p, model: sim.model(for: g, ctf: false)), size: 64)
        p.originX = 3.0; p.originY = -2.0   // Å
        let b = moments(try sim.noiseFreeImage(p, model: sim.model(for: g, ctf: false)), size: 64)
        #expect(abs((b.cx - a.cx) - (-3.0 / 1.25)) < 0.02)
        #expect(abs((b.cy - a.cy) - (2.0 / 1.25)) < 0.02)
    }

    @Test("relion_project on the written particles.star reproduces the simulated images (poses, origins, defocus, CTF)",
          .enabled(if: Relion.has("relion_project"), Comment(rawValue: Relion.missing("relion_project"))))
    func agreesWithRelionProject() throws {
        let dir = TemporaryDirectory("angpix-sim-relion")
        var g = SimulatedOpticsGroup(name: "g1", nominalPixelSize: 1.0, boxSize: 48, particleCount: 5)
        g.snr = 1e8
        g.writtenDefocus = .nominal
        g.defocusMin = 1000; g.defocusMax = 2000; g.maxAstigmatism = 300
        g.maxOriginPixels = 4
        let out = dir.file("set")
        _ = try ParticleSetSimulation(reference: blobMap(size: 48, pixelSize: 1.0), groups: [g], seed: 11)
            .write(to: out, policy: OutputPolicy())
        let run = try runProcess(Relion.path("relion_project")!,
                                 ["--i", "Reference/truth.mrc", "--ang", "particles.star", "--o", "proj", "--ctf"], cwd: out)
        #expect(run.status == 0, "\(run.stderr)")
        let relion = try MRCStackReader(path: (out as NSString).appendingPathComponent("proj.mrcs"))
        let ours = try MRCStackReader(path: (out as NSString).appendingPathComponent("Particles/g1_mic0001.mrcs"))
        #expect(relion.count == 5 && ours.count == 5)
        for i in 0..<5 {
            let c = correlation(try relion.image(i), try ours.image(i))
            printMeasured("correlation with relion_project, particle \(i + 1)", c)
            #expect(c > 0.98)
            // Another particle's projection does not match: the comparison can fail.
            let other = correlation(try relion.image((i + 1) % 5), try ours.image(i))
            #expect(other < 0.6)
        }
    }

    @Test("relion_ctf_refine --fit_beamtilt finds the simulated beam tilt",
          .enabled(if: Relion.has("relion_ctf_refine"), Comment(rawValue: Relion.missing("relion_ctf_refine"))))
    func relionFindsBeamTilt() throws {
        let dir = TemporaryDirectory("angpix-sim-beamtilt")
        var g = SimulatedOpticsGroup(name: "g1", nominalPixelSize: 1.0, boxSize: 64, particleCount: 120)
        g.snr = 1e4
        g.beamTiltX = 0.5; g.beamTiltY = -0.3
        g.defocusMin = 5000; g.defocusMax = 8000
        let out = dir.file("set")
        _ = try ParticleSetSimulation(reference: blobMap(size: 48, pixelSize: 1.0), groups: [g], seed: 21)
            .write(to: out, policy: OutputPolicy())
        let run = try runProcess(Relion.path("relion_ctf_refine")!,
                                 ["--i", "particles.star", "--f", "PostProcess/postprocess.star", "--o", "CtfRefine/",
                                  "--fit_beamtilt", "--odd_aberr_max_n", "3", "--j", "2"], cwd: out)
        #expect(run.status == 0, "\(run.stderr)")
        let star = try RelionParticleFile(document: STARDocument(path: (out as NSString).appendingPathComponent("CtfRefine/particles_ctf_refine.star")))
        let optics = try #require(star.document.block("optics"))
        let bx = try #require(try optics.double(row: 0, "rlnBeamTiltX")), by = try #require(try optics.double(row: 0, "rlnBeamTiltY"))
        printMeasured("RELION's beam tilt x (mrad; truth 0.5)", bx)
        printMeasured("RELION's beam tilt y (mrad; truth -0.3)", by)
        #expect(abs(bx - 0.5) < 0.05 && abs(by + 0.3) < 0.05)
    }

    @Test("The written project: RELION 3.1 STAR file, stacks per micrograph, half maps, postprocess.star and the truth")
    func writtenProject() throws {
        let dir = TemporaryDirectory("angpix-sim-project")
        var g1 = SimulatedOpticsGroup(name: "g1", nominalPixelSize: 1.0, boxSize: 32, particleCount: 10)
        g1.particlesPerMicrograph = 4
        g1.defocusMin = 2000; g1.defocusMax = 4000
        var g2 = g1
        g2.name = "g2"; g2.truePixelSize = 1.02; g2.trueSphericalAberration = 2.9
        g2.beamTiltX = 0.4; g2.anisotropyPercent = 1.0; g2.anisotropyAxis = 45
        g2.defocusError = 100
        let out = dir.file("set")
        let (files, truth) = try ParticleSetSimulation(reference: blobMap(size: 32, pixelSize: 1.0), groups: [g1, g2], seed: 4)
            .write(to: out, policy: OutputPolicy())
        let star = try RelionParticleFile(document: STARDocument(path: files.star))
        #expect(star.optics.groups.count == 2)
        #expect(star.particles.rowCount == 20)
        #expect(files.stacks.count == 6)   // 3 micrographs of ≤ 4 particles per group
        let names = try star.particles.strings("rlnImageName")
        for name in [names[0], names[19]] {
            let image = try #require(ImageName(name))
            let stack = try MRCStackReader(path: (out as NSString).appendingPathComponent(image.stackPath))
            #expect(stack.nx == 32 && image.index <= stack.count)
        }
        for label in ["rlnAngleRot", "rlnOriginXAngst", "rlnRandomSubset", "rlnDefocusU", "rlnMicrographName"] {
            #expect(star.particles.has(label))
        }
        // The truth: M = (t_r p / (p_r t)) D for group 2, the Cs error as Z40, the beam tilt as RELION inserts it.
        let m = truth.groups[1].expectedMagMatrix
        let d = g2.distortion
        #expect(abs(m[0] - d.m00 / 1.02) < 1e-12 && abs(m[1] - d.m01 / 1.02) < 1e-12 && abs(m[3] - d.m11 / 1.02) < 1e-12)
        #expect(truth.groups[0].expectedMagMatrix == [1, 0, 0, 1])
        let z40 = ZernikeCalibration.z40(csNominal: 2.7, csApparent: 2.9, voltage: 300)
        #expect(abs(truth.groups[1].expectedEvenZernike[6] - z40) < 1e-9 * abs(z40))
        #expect(truth.groups[1].expectedOddZernike.count >= 5 && truth.groups[1].expectedOddZernike[4] < 0)
        // The written defocus is what CTFFIND sees at the nominal pixel size: exact for group 1; for
        // group 2 the true one × (1/1.02)² (with the anisotropy's astigmatism), plus the simulated error.
        let written = try star.particles.doubles("rlnDefocusU"), writtenV = try star.particles.doubles("rlnDefocusV")
        #expect(abs(written[0] - truth.particles[0].trueDefocusU) < 0.01)
        #expect(abs(writtenV[0] - truth.particles[0].trueDefocusV) < 0.01)
        for p in truth.particles[10..<20] {
            let meanNominal = (p.nominalDefocusU + p.nominalDefocusV) / 2, meanTrue = (p.trueDefocusU + p.trueDefocusV) / 2
            #expect(abs(meanNominal / meanTrue - 1 / (1.02 * 1.02)) < 2e-3)   // the 1 % anisotropy moves it by < 0.1 %
        }
        let errors = (10..<20).map { written[$0] - truth.particles[$0].nominalDefocusU }
        #expect(errors.contains { abs($0) > 10 })
        #expect(errors.allSatisfy { abs($0) < 600 })
        // Unit noise plus signal at the SNR: the images' variance is about 1 + SNR.
        let stack = try MRCStackReader(path: files.stacks[0])
        var variance = 0.0
        for i in 0..<stack.count {
            let img = try stack.image(i)
            let mean = img.reduce(0.0) { $0 + Double($1) } / Double(img.count)
            variance += img.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(img.count)
        }
        variance /= Double(stack.count)
        #expect(abs(variance - 1.1) < 0.15)
        // Half maps at the reference's label, and a postprocess.star that RELION's layout reads.
        #expect(try MRCFile.readHeader(path: files.half1).nx == 32)
        let pp = try STARDocument(path: files.postprocessStar)
        #expect(pp.block("fsc") != nil)
        let read = try ParticleSetTruth.read(path: files.truth)
        #expect(read.particles.count == 20 && read.groups.count == 2)
    }

    @Test("The reference text's case: a reference made at a 2 % wrong pixel size; Z40 then calibrates the pixel size")
    func zernikeTruthCalibrates() throws {
        // Particles truly at 1.02 Å/px, believed 1.00, and a reference made from them (so also truly 1.02, labelled 1.00).
        let reference = ReferenceVolume(size: 8, truePixelSize: 1.02, labelPixelSize: 1.0, data: [Float](repeating: 1, count: 512))
        var g = SimulatedOpticsGroup(name: "g", nominalPixelSize: 1.0, boxSize: 64, particleCount: 1)
        g.truePixelSize = 1.02
        let m = g.expectedMagnification(reference: reference)
        #expect(abs(m.m00 - 1) < 1e-12 && abs(m.m11 - 1) < 1e-12)   // the refinement sees no magnification error
        let even = g.expectedEvenZernike(reference: reference)
        let cal = try ZernikeCalibration.calibrate(opticsGroup: 1, name: "g", nominalPixelSize: 1.0, voltage: 300,
                                                   csNominal: 2.7, evenZernike: even, csTrue: 2.7)
        let found = try #require(cal.truePixelSize)
        printMeasured("pixel size from the truth's Z40 via calibrate zernike (Å)", found)
        #expect(abs(found - 1.02) < 1e-9)
        // The defocus a refinement finds is the true one × (p/t)², the page's "5000 × (0.54/0.51)²".
        #expect(abs(SimulatedOpticsGroup.defocusFactor(reference: reference) - 1 / (1.02 * 1.02)) < 1e-12)
    }

    @Test("The reference text's defocus: 5000 Å at 0.51 Å/px believed to be 0.54 is written as a CTF fit finds it, 5526 Å")
    func ctffindDefocus() throws {
        let sim = try ParticleSimulator(reference: blobMap(size: 16, pixelSize: 0.51))
        var g = SimulatedOpticsGroup(name: "g", nominalPixelSize: 0.54, boxSize: 64, particleCount: 3)
        g.truePixelSize = 0.51
        g.defocusMin = 5000; g.defocusMax = 5000; g.maxAstigmatism = 0; g.particleDefocusSpread = 0
        g.writtenDefocus = .ctffind
        let fitted = try sim.particles(group: g, groupNumber: 1, seed: 1)
        printMeasured("defocus written for the reference text's example (Å)", fitted[0].writtenDefocusU)
        #expect(abs(fitted[0].writtenDefocusU - 5526) < 3)
        // Seen exactly (defocus and Cs refined together): 5000 × (0.54/0.51)² = 5606 Å.
        g.writtenDefocus = .nominal
        let exact = try sim.particles(group: g, groupNumber: 1, seed: 1)
        #expect(abs(exact[0].writtenDefocusU - 5000 * (0.54 / 0.51) * (0.54 / 0.51)) < 1e-6)
        #expect(abs(exact[0].writtenDefocusV - exact[0].writtenDefocusU) < 1e-6)
    }

    @Test("Bad settings are refused before anything is written; a non-empty folder is refused")
    func badInput() throws {
        let dir = TemporaryDirectory("angpix-sim-bad")
        let g = SimulatedOpticsGroup(name: "same", nominalPixelSize: 1.0, boxSize: 32, particleCount: 2)
        let out = dir.file("set")
        #expect(throws: ParticleSimulationError.self) {
            _ = try ParticleSetSimulation(reference: blobMap(size: 32, pixelSize: 1.0), groups: [g, g]).write(to: out, policy: OutputPolicy())
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        var odd = g; odd.boxSize = 33
        #expect(throws: ParticleSimulationError.self) {
            _ = try ParticleSetSimulation(reference: blobMap(size: 32, pixelSize: 1.0), groups: [odd]).write(to: out, policy: OutputPolicy())
        }
        _ = dir.write("set2/keep.txt", "x")
        #expect(throws: ParticleSimulationError.outputNotEmpty(path: dir.file("set2"))) {
            _ = try ParticleSetSimulation(reference: blobMap(size: 32, pixelSize: 1.0), groups: [g]).write(to: dir.file("set2"), policy: OutputPolicy())
        }
    }

    @Test("angpix simulate particles writes a set from the built-in model and refuses to overwrite it")
    func command() throws {
        let dir = TemporaryDirectory("angpix-sim-cli")
        let args = ["simulate", "particles", "--builtin-model", "-o", dir.file("sim"), "--particles", "4", "--box", "64",
                    "--group", "name=a", "--group", "name=b,true-angpix=1.02,aniso=1.5,axis=30"]
        let r = try runAngpix(args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("optics group 2 (b)"))
        for f in ["particles.star", "truth.json", "PostProcess/postprocess.star", "Refine3D/run_half1_class001_unfil.mrc", "MaskCreate/mask.mrc"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("sim/" + f)), "\(f)")
        }
        let again = try runAngpix(args)
        #expect(again.status != 0 && again.stderr.contains("not empty"))
        // A map given as a file: its header's pixel size is its true one; --reference-label relabels the half maps.
        let ref = blobMap(size: 32, pixelSize: 1.1)
        try MRCFile.write(MRCMap(nx: 32, ny: 32, nz: 32, pixelSize: 1.1, data: ref.data), to: dir.file("map.mrc"), policy: OutputPolicy())
        let fromMap = try runAngpix(["simulate", "particles", "--map", dir.file("map.mrc"), "--reference-label", "1.0", "-o", dir.file("m"),
                                     "--particles", "3", "--box", "48", "--angpix", "1.1", "--json"])
        #expect(fromMap.status == 0, "\(fromMap.stderr)")
        #expect(abs(try MRCFile.readHeader(path: dir.file("m/Refine3D/run_half2_class001_unfil.mrc")).voxelSize.x - 1.0) < 1e-6)
        let truth = try ParticleSetTruth.read(path: dir.file("m/truth.json"))
        #expect(abs(truth.groups[0].expectedMagMatrix[0] - 1.1) < 1e-6)   // t_r p / (p_r t) = 1.1 · 1.1 / (1.0 · 1.1); the header holds floats
        let bad = try runAngpix(["simulate", "particles", "--builtin-model", "-o", dir.file("x"), "--group", "name=a,colour=red"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown key 'colour'"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("x")))
    }
}
