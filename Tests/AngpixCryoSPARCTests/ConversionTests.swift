// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Round trips cryoSPARC → RELION: synthetic particles with known orientations, shifts, defocus,
// magnification and aberrations are written as .cs files (2D and 3D alignments, with and without
// passthrough, |S and <U paths, several exposure groups, alignments at another pixel size), then
// converted; the STAR values must equal the truth, and the CTF RELION computes from the STAR
// values (angpix's CTF, RELION 3.1's definition) must equal the CTF of the .cs values under
// cryoSPARC's conventions (CryoSPARCConventions.swift) at every frequency to 1e-6.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixTestSupport
@testable import AngpixCryoSPARC

/// The converted file, read back.
struct ConvertedStar {
    let optics: OpticsTable
    let particles: STARBlock
    let result: CryoSPARCToRelionResult

    init(_ set: CryoSPARCParticles, options: CryoSPARCToRelionOptions = .init()) throws {
        let (text, result) = try CryoSPARCToRelion.starText(set, options: options)
        let doc = try STARDocument(text: text, name: "converted.star")
        let relion = try RelionParticleFile(document: doc, file: "converted.star")
        optics = relion.optics
        particles = relion.particles
        self.result = result
    }

    func column(_ label: String) throws -> [Double] { try particles.doubles(label) }
}

/// The CTF under cryoSPARC's conventions as angpix reads them (docs/cryosparc.md), written
/// independently of angpix's CTF: the real-space distortion D = I + anisomag maps a nominal
/// frequency k to the true one D⁻ᵀ k; defocus along the azimuth φ is
/// (df1 + df2)/2 + (df1 − df2)/2 · cos 2(φ − df_angle); γ = −π λ df k² + π/2 Cs λ³ k⁴ − phase
/// shift − atan(Q0/√(1−Q0²)) + 2π λ³ k⁴ (tetrafoil terms); the odd phase is
/// −2π λ² (k² (k · tilt_A) + k³ (t₁ cos 3φ + t₂ sin 3φ)) − 2π (k · shift_A); the value is
/// −scale · sin γ · exp(−B k²/4) · exp(i · odd phase) (RELION's overall sign).
func cryoSPARCModelCTF(_ p: TruthParticle, x: Double, y: Double) -> (re: Double, im: Double) {
    func f(_ v: Double) -> Double { Double(Float(v)) }   // the .cs stores float32
    // Optics values: the float32 read as the decimal typed (NPYFile.decimal).
    func o(_ v: Double) -> Double { Double(Float(v).description)! }
    let a = p.anisomag.map(o)
    let d00 = 1 + a[0], d01 = a[1], d10 = a[2], d11 = 1 + a[3]
    let det = d00 * d11 - d01 * d10
    // D⁻ᵀ k: D⁻¹ = [[d11, −d01], [−d10, d00]]/det, transposed.
    let kx = (d11 * x - d10 * y) / det, ky = (-d01 * x + d00 * y) / det
    let v = o(p.voltage) * 1000
    let lambda = 12.2643247 / (v * (1 + v * 0.978466e-6)).squareRoot()
    let k2 = kx * kx + ky * ky, k = k2.squareRoot()
    let phi = k2 > 0 ? atan2(ky, kx) : 0
    let angle = f(p.dfAngle * .pi / 180)
    let df = (f(p.dfU) + f(p.dfV)) / 2 + (f(p.dfU) - f(p.dfV)) / 2 * cos(2 * (phi - angle))
    let q0 = o(p.q0)
    let t = p.tetra.map(o)
    var gamma = -Double.pi * lambda * df * k2 + Double.pi / 2 * o(p.cs) * 1e7 * pow(lambda, 3) * k2 * k2
        - f(p.phaseShift * .pi / 180) - atan(q0 / (1 - q0 * q0).squareRoot())
    gamma += 2 * Double.pi * pow(lambda, 3) * k2 * k2 * (t[0] * cos(4 * phi) + t[1] * sin(4 * phi) + t[2] * cos(2 * phi) + t[3] * sin(2 * phi))
    let ctf = -f(p.scale) * sin(gamma) * exp(-f(p.bfactor) / 4 * k2)
    let tilt = p.tiltA.map(o), tref = p.trefoil.map(o)
    let shiftA = p.ctfShift.map(o)
    let odd = -2 * Double.pi * lambda * lambda * (k2 * (kx * tilt[0] + ky * tilt[1]) + k * k2 * (tref[0] * cos(3 * phi) + tref[1] * sin(3 * phi)))
        - 2 * Double.pi * (kx * shiftA[0] + ky * shiftA[1])
    return (ctf * cos(odd), ctf * sin(odd))
}

/// angpix's (RELION 3.1's) CTF of particle `row` of the converted file, with RELION's conversion
/// of rlnBeamTiltX/Y into odd Zernike terms.
func relionCTF(_ star: ConvertedStar, row: Int, magMatrix override: Matrix2x2?? = nil) throws -> CTF {
    let g = star.optics.groups[try star.particles.int(row: row, "rlnOpticsGroup")! - 1]
    var odd = g.oddZernike
    if let tx = g.values["rlnBeamTiltX"].flatMap(Double.init), let ty = g.values["rlnBeamTiltY"].flatMap(Double.init) {
        let extra = CryoSPARCConventions.relionBeamTiltZernike(tiltX: tx, tiltY: ty, cs: g.sphericalAberration,
                                                               wavelength: electronWavelength(kilovolts: g.voltage))
        if odd.count < 6 { odd += [Double](repeating: 0, count: 6 - odd.count) }
        for i in 0..<6 { odd[i] += extra[i] }
    }
    let m = g.magMatrix.map { Matrix2x2($0.m00, $0.m01, $0.m10, $0.m11) }
    let p = CTFParameters(
        defocusU: try star.particles.double(row: row, "rlnDefocusU")!, defocusV: try star.particles.double(row: row, "rlnDefocusV")!,
        defocusAngle: try star.particles.double(row: row, "rlnDefocusAngle")!, voltage: g.voltage,
        sphericalAberration: g.sphericalAberration, amplitudeContrast: g.amplitudeContrast,
        phaseShift: try star.particles.double(row: row, "rlnPhaseShift") ?? 0,
        bFactor: try star.particles.double(row: row, "rlnCtfBfactor") ?? 0,
        scale: try star.particles.double(row: row, "rlnCtfScalefactor") ?? 1,
        evenZernike: g.evenZernike, oddZernike: odd, magMatrix: override ?? m)
    return try CTF(p)
}

/// The largest difference between the two CTFs over a grid of frequencies up to Nyquist.
func maxCTFDifference(_ star: ConvertedStar, _ truth: [TruthParticle], rows: [Int], magMatrix: Matrix2x2?? = nil) throws -> Double {
    var worst = 0.0
    for r in rows {
        let ctf = try relionCTF(star, row: r, magMatrix: magMatrix)
        let nyquist = 0.5 / truth[r].pixelSize
        for i in -24...24 {
            for j in -24...24 {
                let x = nyquist * Double(i) / 24, y = nyquist * Double(j) / 24
                let a = ctf.complexValue(x: x, y: y), b = cryoSPARCModelCTF(truth[r], x: x, y: y)
                worst = max(worst, abs(a.re - b.re), abs(a.im - b.im))
            }
        }
    }
    return worst
}

@Suite struct CryoSPARCConversionTests {
    @Test func conventionsInvertEachOther() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<200 {
            let rot = rng.uniform(-180, 180), tilt = rng.uniform(0.5, 179.5), psi = rng.uniform(-180, 180)
            let v = CryoSPARCConventions.pose(rot: rot, tilt: tilt, psi: psi)
            let back = CryoSPARCConventions.relionAngles(pose: v)
            let a = CryoSPARCConventions.relionMatrix(rot: rot, tilt: tilt, psi: psi)
            let b = CryoSPARCConventions.relionMatrix(rot: back.rot, tilt: back.tilt, psi: back.psi)
            #expect(zip(a.m, b.m).allSatisfy { abs($0 - $1) < 1e-9 })
            #expect(abs(back.tilt - tilt) < 1e-7)
        }
        // The per-particle path (no matrices allocated) is the matrix path, including the identity
        // and poses near π.
        for v in [(0.0, 0.0, 0.0), (0.0, 0.0, 1.3), (Double.pi - 1e-9, 0, 0), (0.3, -2.1, 0.7), (-1.2, 0.4, 2.5)] {
            let fast = CryoSPARCConventions.relionAngles(pose: v)
            let slow = CryoSPARCConventions.relionAngles(CryoSPARCConventions.relionMatrix(pose: v))
            #expect(abs(fast.rot - slow.rot) < 1e-9 && abs(fast.tilt - slow.tilt) < 1e-9 && abs(fast.psi - slow.psi) < 1e-9, "\(v)")
        }
        // RELION's matrix for (rot, tilt, psi) = (90, 0, 0) rotates the map by −90° about z.
        let m = CryoSPARCConventions.relionMatrix(rot: 90, tilt: 0, psi: 0)
        #expect(abs(m[0, 1] - 1) < 1e-12 && abs(m[1, 0] + 1) < 1e-12)
    }

    /// cryoSPARC's pose is RELION's A transposed: a map direction d lands in the image at A d
    /// (RELION) and at Rᵀ d (cryoSPARC's pose R maps the image frame into the map); the viewing
    /// direction (image z in the map) is R e_z = third row of A. The other reading (A = R) puts
    /// directions elsewhere.
    @Test func anglesFromPosesProjectDirectionsAsTheTruth() throws {
        let ps = Synthetic.particles(60, seed: 11)
        let dir = TemporaryDirectory("cs-convert")
        let path = Synthetic.full(ps).write(to: dir.file("p.cs"))
        let set = try CryoSPARCParticles(path: path)
        let star = try ConvertedStar(set)
        let rot = try star.column("rlnAngleRot"), tilt = try star.column("rlnAngleTilt"), psi = try star.column("rlnAnglePsi")
        let pose = try #require(set.alignment("pose"))
        var otherWayWorst = 0.0
        for i in 0..<ps.count {
            let truth = CryoSPARCConventions.relionMatrix(rot: ps[i].rot, tilt: ps[i].tilt, psi: ps[i].psi)
            let got = CryoSPARCConventions.relionMatrix(rot: rot[i], tilt: tilt[i], psi: psi[i])
            #expect(zip(truth.m, got.m).allSatisfy { abs($0 - $1) < 2e-6 }, "particle \(i)")
            let r = CryoSPARCConventions.rotationMatrix(rotationVector: (pose.double(i, 0), pose.double(i, 1), pose.double(i, 2)))
            for d in [(1.0, 0.0, 0.0), (0.3, -0.5, 0.8), (0.0, 0.0, 1.0)] {
                let relion = got.apply(d), cryosparc = r.transposed.apply(d), wrong = r.apply(d)
                #expect(abs(relion.0 - cryosparc.0) < 2e-6 && abs(relion.1 - cryosparc.1) < 2e-6 && abs(relion.2 - cryosparc.2) < 2e-6)
                otherWayWorst = max(otherWayWorst, abs(relion.0 - wrong.0), abs(relion.1 - wrong.1))
            }
            let view = r.apply((0, 0, 1))
            #expect(abs(view.0 - got[2, 0]) < 2e-6 && abs(view.1 - got[2, 1]) < 2e-6 && abs(view.2 - got[2, 2]) < 2e-6)
        }
        #expect(otherWayWorst > 0.5)
        // Origins, defocus, subsets, classes, names.
        let ox = try star.column("rlnOriginXAngst"), oy = try star.column("rlnOriginYAngst")
        let du = try star.column("rlnDefocusU"), dv = try star.column("rlnDefocusV"), da = try star.column("rlnDefocusAngle")
        let subset = try star.particles.ints("rlnRandomSubset"), klass = try star.particles.ints("rlnClassNumber")
        let names = try star.particles.strings("rlnImageName"), mics = try star.particles.strings("rlnMicrographName")
        for i in 0..<ps.count {
            #expect(abs(ox[i] - ps[i].originX) < 1e-5 && abs(oy[i] - ps[i].originY) < 1e-5)
            #expect(abs(du[i] - ps[i].dfU) < 2e-3 && abs(dv[i] - ps[i].dfV) < 2e-3)
            #expect(abs(da[i] - ps[i].dfAngle) < 1e-5)
            #expect(subset[i] == ps[i].split + 1 && klass[i] == ps[i].klass + 1)
            #expect(names[i] == ImageName(index: ps[i].index + 1, stackPath: ps[i].stack).text)
            #expect(mics[i] == ps[i].micrograph)
        }
        #expect(star.optics.groups.count == 1)
        #expect(star.optics.groups[0].name == "exp_group_1")
        #expect(abs(star.optics.groups[0].imagePixelSize - 1.06) < 1e-6 && star.optics.groups[0].imageSize == 256)
        #expect(star.result.warnings.contains { $0.contains("blob/sign") })
        #expect(star.result.warnings.contains { $0.contains("named .mrc") })
        let ctfDifference = try maxCTFDifference(star, ps, rows: Array(0..<5))
        #expect(ctfDifference < 1e-6, "largest CTF difference \(ctfDifference)")
    }

    /// A refinement of particles downsampled to 2.12 Å/px: shifts are in its pixels.
    @Test func downsampledAlignmentsGiveOriginsAtTheirPixelSize() throws {
        let ps = Synthetic.particles(30, pixelSize: 1.06, alignPixelSize: 2.12)
        let dir = TemporaryDirectory("cs-convert")
        let set = try CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs")))
        let star = try ConvertedStar(set)
        let ox = try star.column("rlnOriginXAngst"), oy = try star.column("rlnOriginYAngst")
        for i in 0..<ps.count {
            #expect(abs(ox[i] - ps[i].originX) < 1e-5 && abs(oy[i] - ps[i].originY) < 1e-5)
            // pyem's reading (shift × blob/psize_A) would be half the truth.
            #expect(abs(ps[i].originX) < 1e-3 || abs(ox[i] - ps[i].originX / 2) > 1e-3)
        }
        #expect(star.result.warnings.contains { $0.contains("30 particles were aligned at another pixel size") })
        let info = try CryoSPARCInfo(paths: [set.main.path])
        #expect(info.alignmentPixelSizes?.map(\.pixelSize) == [2.12])
        #expect(info.warnings.contains { $0.contains("30 of 30 particles were aligned at another pixel size") })
    }

    /// The same particles split into a job output and a passthrough (records in another order),
    /// with |S and with <U paths, and as one file: the same STAR values.
    @Test func passthroughAndStringKindsGiveTheSameResult() throws {
        let ps = Synthetic.particles(40, groups: 3)
        let dir = TemporaryDirectory("cs-convert")
        let whole = try ConvertedStar(CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("full.cs"))))
        for text in ["|S64", "<U64"] {
            let (m, p) = Synthetic.split(ps, text: text)
            let set = try CryoSPARCParticles(path: m.write(to: dir.file("m\(text.last!).cs")), passthroughs: [p.write(to: dir.file("p\(text.last!).cs"))])
            let star = try ConvertedStar(set)
            for label in ["rlnImageName", "rlnMicrographName", "rlnOpticsGroup", "rlnDefocusU", "rlnAngleRot", "rlnOriginXAngst", "rlnRandomSubset"] {
                #expect(try star.particles.strings(label) == whole.particles.strings(label), "\(label) with \(text)")
            }
            #expect(star.optics.groups.map(\.name) == ["exp_group_1", "exp_group_2", "exp_group_3"])
        }
        let groups = try whole.particles.ints("rlnOpticsGroup")
        for i in 0..<ps.count { #expect(whole.optics.groups[groups[i] - 1].name == "exp_group_\(ps[i].expGroup)") }
    }

    /// Exposure groups with distinct optics; one exposure group holding two pixel sizes splits.
    @Test func exposureGroupsBecomeOpticsGroups() throws {
        var ps = Synthetic.particles(24, groups: 2)
        for i in 0..<ps.count where i % 4 == 1 { ps[i].pixelSize = 0.88; ps[i].alignPixelSize = 0.88 }  // part of group 2
        for i in 0..<ps.count where ps[i].expGroup == 1 { ps[i].voltage = 200; ps[i].cs = 2.0; ps[i].q0 = 0.07 }
        let dir = TemporaryDirectory("cs-convert")
        let star = try ConvertedStar(CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs"))))
        #expect(star.optics.groups.map(\.name) == ["exp_group_1", "exp_group_2", "exp_group_2_2"])
        #expect(star.optics.groups.map(\.voltage) == [200, 300, 300])
        let g = try star.particles.ints("rlnOpticsGroup")
        for i in 0..<ps.count {
            let o = star.optics.groups[g[i] - 1]
            #expect(abs(o.imagePixelSize - ps[i].pixelSize) < 1e-6 && o.voltage == ps[i].voltage)
            #expect(abs(o.sphericalAberration - ps[i].cs) < 1e-6 && abs(o.amplitudeContrast - ps[i].q0) < 1e-6)
        }
        #expect(star.result.warnings.contains { $0.contains("exposure group 2 holds particles of 2 different optics") })
        let ctfDifference = try maxCTFDifference(star, ps, rows: [0, 1, 2, 3])
        #expect(ctfDifference < 1e-6, "largest CTF difference \(ctfDifference)")
    }

    /// 2D classification output: the in-plane angle becomes rlnAnglePsi.
    @Test func twoDimensionalAlignments() throws {
        let ps = Synthetic.particles(20)
        let dir = TemporaryDirectory("cs-convert")
        let (m, p) = Synthetic.split(ps, alignments: "alignments2D")
        let star = try ConvertedStar(CryoSPARCParticles(path: m.write(to: dir.file("m.cs")), passthroughs: [p.write(to: dir.file("p.cs"))]))
        #expect(star.result.alignments == "alignments2D")
        #expect(!star.particles.has("rlnAngleRot") && !star.particles.has("rlnAngleTilt"))
        let psi = try star.column("rlnAnglePsi"), ox = try star.column("rlnOriginXAngst")
        for i in 0..<ps.count {
            #expect(abs(psi[i] - ps[i].psi) < 1e-4)
            #expect(abs(ox[i] - ps[i].originX) < 1e-5)
            // A(0, 0, psi) = Rz(psi)ᵀ, the 3D convention with the pose (0, 0, θ).
            let a = CryoSPARCConventions.relionMatrix(rot: 0, tilt: 0, psi: psi[i])
            let r = CryoSPARCConventions.rotationMatrix(rotationVector: (0, 0, ps[i].psi * .pi / 180)).transposed
            #expect(zip(a.m, r.m).allSatisfy { abs($0 - $1) < 1e-6 })
        }
    }

    /// anisomag → rlnMagMat = (I + anisomag)⁻ᵀ: the only reading whose CTF matches cryoSPARC's
    /// (a real-space distortion D = I + anisomag). anisomag itself (pyem), I + anisomag, (I + A)⁻¹
    /// and (I + A)ᵀ all give other CTFs.
    @Test func magnificationMatrixOrientationByTheCTF() throws {
        var ps = Synthetic.particles(6)
        for i in 0..<ps.count { ps[i].anisomag = [0.012, 0.006, -0.004, -0.009]; ps[i].dfV = ps[i].dfU - 700 }
        let dir = TemporaryDirectory("cs-convert")
        let star = try ConvertedStar(CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs"))))
        let a = ps[0].anisomag.map { Double(Float($0).description)! }
        let m = try #require(star.optics.groups[0].magMatrix)
        let d = Matrix2x2(1 + a[0], a[1], a[2], 1 + a[3])
        let inv = try #require(d.inverse)
        let expected = Matrix2x2(inv.m00, inv.m10, inv.m01, inv.m11)
        #expect(abs(m.m00 - expected.m00) < 1e-8 && abs(m.m01 - expected.m01) < 1e-8 && abs(m.m10 - expected.m10) < 1e-8 && abs(m.m11 - expected.m11) < 1e-8)
        let rows = Array(0..<ps.count)
        let ctfDifference = try maxCTFDifference(star, ps, rows: rows)
        #expect(ctfDifference < 1e-6, "largest CTF difference \(ctfDifference)")
        for wrong in [d, inv, Matrix2x2(d.m00, d.m10, d.m01, d.m11), Matrix2x2(a[0], a[1], a[2], a[3])] {
            if wrong.determinant == 0 { continue }
            #expect(try maxCTFDifference(star, ps, rows: rows, magMatrix: .some(wrong)) > 1e-2)
        }
    }

    /// Beam tilt, trefoil, tetrafoil, phase shift, B-factor, scale: the complex CTF matches.
    @Test func aberrationsKeepTheCTF() throws {
        var ps = Synthetic.particles(8, groups: 2)
        for i in 0..<ps.count {
            ps[i].tiltA = ps[i].expGroup == 1 ? [13500, -6000] : [-2000, 9000]     // 0.5, −0.22 mrad at 2.7 mm
            ps[i].trefoil = [4000, -2500]
            ps[i].tetra = [30000, -20000, 15000, 8000]
            ps[i].phaseShift = 35; ps[i].bfactor = 40; ps[i].scale = 0.9
            ps[i].anisomag = [0.005, -0.002, 0.003, -0.006]
        }
        let dir = TemporaryDirectory("cs-convert")
        let star = try ConvertedStar(CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs"))))
        let g = star.optics.groups[0]
        #expect(abs(Double(g.values["rlnBeamTiltX"]!)! - 0.5) < 1e-6)
        #expect(abs(Double(g.values["rlnBeamTiltY"]!)! - (-6000 / 2.7e4)) < 1e-6)
        #expect(g.oddZernike.count == 6 && g.evenZernike.count == 9)
        let ctfDifference = try maxCTFDifference(star, ps, rows: Array(0..<ps.count))
        #expect(ctfDifference < 1e-6, "largest CTF difference \(ctfDifference)")
        #expect(star.result.warnings.contains { $0.contains("trefoil/tetrafoil converted with angpix's assumed basis") })
    }

    /// A Cs that cryoSPARC refined (ctf/cs_mm 2.62 against a nominal 2.7 mm) moved into Z40 with
    /// --cs-nominal: the CTF is unchanged, and the Z40 route gives the pixel size it implies.
    @Test func refinedCsBecomesZ40ForCalibration() throws {
        var ps = Synthetic.particles(6)
        for i in 0..<ps.count { ps[i].cs = 2.62; ps[i].tiltA = [5000, 0] }
        let dir = TemporaryDirectory("cs-convert")
        let star = try ConvertedStar(CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs"))),
                                     options: .init(csNominal: 2.7))
        let g = star.optics.groups[0]
        #expect(g.sphericalAberration == 2.7)
        let ctfDifference = try maxCTFDifference(star, ps, rows: Array(0..<ps.count))
        #expect(ctfDifference < 1e-6, "largest CTF difference \(ctfDifference)")
        let cal = try ZernikeCalibration.calibrate(opticsGroup: 1, name: g.name, nominalPixelSize: g.imagePixelSize, voltage: g.voltage,
                                                   csNominal: g.sphericalAberration, evenZernike: g.evenZernike, csTrue: 2.7)
        let apparent = try #require(cal.csApparent)
        #expect(abs(apparent - 2.62) < 1e-9)
        #expect(abs(cal.truePixelSize! - 1.06 * pow(2.7 / 2.62, 0.25)) < 1e-9)
    }
}
