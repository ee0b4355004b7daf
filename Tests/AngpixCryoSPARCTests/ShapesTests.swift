// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Every shape of particle .cs file a cryoSPARC job writes, converted and checked against the
// truth they were made from: 2D classification, 3D refinement and 3D classification
// (alignments3D_multi) outputs, with and without passthrough, |S and <U paths, one or several
// exposure groups; particle coordinates; ctf/shift_A; class selection; passthrough matching.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixTestSupport
@testable import AngpixCryoSPARC

@Suite struct CryoSPARCShapesTests {
    /// Every combination: the values written must be the truth, and the CTF from the STAR values
    /// the CTF of the .cs values to 1e-6.
    @Test(arguments: ["alignments2D", "alignments3D", "alignments3D_multi", "none"])
    func everyShapeConvertsToTheTruth(alignments: String) throws {
        let dir = TemporaryDirectory("cs-shapes")
        for text in ["|S80", "<U80"] {
            for groups in [1, 3] {
                for passthrough in [false, true] {
                    var ps = Synthetic.particles(18, groups: groups, seed: UInt64(groups * 10 + (passthrough ? 1 : 0)))
                    for i in ps.indices where ps[i].expGroup == 2 { ps[i].tiltA = [2000, -1000]; ps[i].anisomag = [0.004, 0.001, -0.002, -0.003] }
                    let tag = "\(alignments)-\(text.first!)-\(groups)-\(passthrough)"
                    let set: CryoSPARCParticles
                    let align = alignments == "none" ? "alignments3D" : alignments
                    if passthrough {
                        var (m, p) = Synthetic.split(ps, alignments: align, text: text)
                        if alignments == "none" { m.fields = [m.fields[0]] }
                        set = try CryoSPARCParticles(path: m.write(to: dir.file("\(tag)-m.cs")), passthroughs: [p.write(to: dir.file("\(tag)-p.cs"))])
                    } else {
                        var f = Synthetic.full(ps, alignments: align, text: text)
                        if alignments == "none" { f.fields.removeAll { $0.name.hasPrefix("alignments") } }
                        set = try CryoSPARCParticles(path: f.write(to: dir.file("\(tag).cs")))
                    }
                    let star = try ConvertedStar(set)
                    #expect(star.result.alignments == (alignments == "none" ? nil : alignments), "\(tag)")
                    #expect(star.optics.groups.count == groups, "\(tag)")
                    let names = try star.particles.strings("rlnImageName"), mics = try star.particles.strings("rlnMicrographName")
                    let x = try star.column("rlnCoordinateX"), y = try star.column("rlnCoordinateY")
                    let du = try star.column("rlnDefocusU"), og = try star.particles.ints("rlnOpticsGroup")
                    for i in ps.indices {
                        #expect(names[i] == ImageName(index: ps[i].index + 1, stackPath: ps[i].stack).text, "\(tag)")
                        #expect(mics[i] == ps[i].micrograph)
                        #expect(abs(x[i] - ps[i].coordX) < 2e-3 && abs(y[i] - ps[i].coordY) < 2e-3, "\(tag) \(i)")
                        #expect(abs(du[i] - ps[i].dfU) < 2e-3)
                        #expect(star.optics.groups[og[i] - 1].name == "exp_group_\(ps[i].expGroup)")
                    }
                    if alignments == "none" {
                        #expect(!star.particles.has("rlnAnglePsi") && !star.particles.has("rlnOriginXAngst"))
                    } else {
                        let psi = try star.column("rlnAnglePsi"), ox = try star.column("rlnOriginXAngst"), oy = try star.column("rlnOriginYAngst")
                        let klass = try star.particles.ints("rlnClassNumber")
                        let rot = alignments == "alignments2D" ? nil : try star.column("rlnAngleRot")
                        let tilt = alignments == "alignments2D" ? nil : try star.column("rlnAngleTilt")
                        for i in ps.indices {
                            #expect(abs(ox[i] - ps[i].originX) < 1e-5 && abs(oy[i] - ps[i].originY) < 1e-5, "\(tag) \(i)")
                            #expect(klass[i] == ps[i].klass + 1)
                            if let rot, let tilt {
                                let a = CryoSPARCConventions.relionMatrix(rot: ps[i].rot, tilt: ps[i].tilt, psi: ps[i].psi)
                                let b = CryoSPARCConventions.relionMatrix(rot: rot[i], tilt: tilt[i], psi: psi[i])
                                #expect(zip(a.m, b.m).allSatisfy { abs($0 - $1) < 2e-6 }, "\(tag) \(i)")
                            } else {
                                #expect(abs(psi[i] - ps[i].psi) < 1e-4)
                            }
                        }
                        #expect(try star.particles.ints("rlnRandomSubset") == ps.map { $0.split + 1 })
                    }
                    let ctfDifference = try maxCTFDifference(star, ps, rows: [0, 1, 2])
                    #expect(ctfDifference < 1e-6, "\(tag): largest CTF difference \(ctfDifference)")
                }
            }
        }
    }

    /// Coordinates in micrograph pixels: x along the width (micrograph_shape[1]), y along the
    /// height (micrograph_shape[0]); --flip-y mirrors y; no shape: no coordinates, a warning.
    @Test func coordinatesInMicrographPixels() throws {
        var ps = Synthetic.particles(12)
        ps[0].coordX = 5759.5; ps[0].coordY = 0.5
        let dir = TemporaryDirectory("cs-shapes")
        let set = try CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs")))
        let star = try ConvertedStar(set)
        let flipped = try ConvertedStar(set, options: .init(flipCoordinateY: true))
        let x = try star.column("rlnCoordinateX"), y = try star.column("rlnCoordinateY"), fy = try flipped.column("rlnCoordinateY")
        for i in ps.indices {
            #expect(abs(x[i] - ps[i].coordX) < 2e-3 && abs(y[i] - ps[i].coordY) < 2e-3)
            #expect(abs(fy[i] - (4092 - ps[i].coordY)) < 2e-3)
        }
        #expect(star.result.assumptions.contains { $0.hasPrefix("coordinates: rlnCoordinateX = center_x_frac × width, rlnCoordinateY = center_y_frac × height") })
        var noShape = Synthetic.full(ps)
        noShape.fields.removeAll { $0.name == "location/micrograph_shape" }
        let without = try ConvertedStar(CryoSPARCParticles(path: noShape.write(to: dir.file("noshape.cs"))))
        #expect(!without.particles.has("rlnCoordinateX"))
        #expect(without.result.warnings.contains { $0.contains("without location/micrograph_shape") })
    }

    /// A 3D classification: each particle takes its most probable class's pose and shift (the
    /// decoy classes' poses would give other angles), and --class keeps chosen classes only.
    @Test func multiClassTakesTheMostProbableClassAndSelects() throws {
        let ps = Synthetic.particles(30, groups: 2, alignPixelSize: 2.12)
        let dir = TemporaryDirectory("cs-shapes")
        let set = try CryoSPARCParticles(path: Synthetic.full(ps, alignments: "alignments3D_multi").write(to: dir.file("multi.cs")))
        #expect(set.multiClassCount == 3)
        let star = try ConvertedStar(set)
        #expect(star.result.assumptions.contains { $0.hasPrefix("alignments3D_multi: each particle takes the pose") })
        let ox = try star.column("rlnOriginXAngst")
        for i in ps.indices { #expect(abs(ox[i] - ps[i].originX) < 1e-5) }
        let two = try ConvertedStar(set, options: .init(classes: [2]))
        let kept = ps.filter { $0.klass == 1 }
        #expect(two.result.particles == kept.count && two.result.inputParticles == 30)
        #expect(try two.particles.ints("rlnClassNumber") == kept.map { _ in 2 })
        #expect(try two.particles.strings("rlnImageName") == kept.map { ImageName(index: $0.index + 1, stackPath: $0.stack).text })
        #expect(two.optics.groups.map(\.name) == ["exp_group_2", "exp_group_1"] || two.optics.groups.map(\.name) == ["exp_group_1", "exp_group_2"])
        let counts = two.optics.groups.map { g in try! two.particles.ints("rlnOpticsGroup").filter { $0 == g.number }.count }
        #expect(counts.reduce(0, +) == kept.count)
        // No class field at all: the most probable class itself.
        var noClass = Synthetic.full(ps, alignments: "alignments3D_multi")
        noClass.fields.removeAll { $0.name == "alignments3D_multi/class" }
        let bare = try ConvertedStar(CryoSPARCParticles(path: noClass.write(to: dir.file("noclass.cs"))))
        #expect(try bare.particles.ints("rlnClassNumber") == ps.map { $0.klass + 1 })
        // A shape that is neither one nor one per class is refused, naming the field.
        var badShape = Synthetic.full(ps, alignments: "alignments3D_multi")
        for k in badShape.fields.indices where badShape.fields[k].name == "alignments3D_multi/psize_A" { badShape.fields[k].shape = [2] }
        for r in badShape.rows.indices { badShape.rows[r]["alignments3D_multi/psize_A"] = .numbers([2.12, 2.12]) }
        let path = badShape.write(to: dir.file("bad.cs"))
        #expect(throws: CryoSPARCError.badField(file: path, field: "alignments3D_multi/psize_A", reason: "expected 1 or 3 numbers (one per class), found <f4 (2,)")) {
            _ = try ConvertedStar(CryoSPARCParticles(path: path))
        }
        // Selecting classes of a file without classes is refused.
        var noAlign = Synthetic.full(ps)
        noAlign.fields.removeAll { $0.name.hasPrefix("alignments") }
        let plain = try CryoSPARCParticles(path: noAlign.write(to: dir.file("noalign.cs")))
        #expect(throws: CryoSPARCError.self) { _ = try ConvertedStar(plain, options: .init(classes: [1])) }
    }

    /// ctf/shift_A, with tilt and trefoil: odd Zernike terms that keep the complex CTF (1e-6).
    @Test func ctfShiftKeepsTheCTF() throws {
        var ps = Synthetic.particles(6)
        for i in ps.indices { ps[i].ctfShift = [0.8, -0.35]; ps[i].tiltA = [3000, 500]; ps[i].trefoil = [-1500, 700] }
        let dir = TemporaryDirectory("cs-shapes")
        let star = try ConvertedStar(CryoSPARCParticles(path: Synthetic.full(ps).write(to: dir.file("p.cs"))))
        let g = star.optics.groups[0]
        #expect(abs(g.oddZernike[1] - (-2 * Double.pi * Double(Float(0.8).description)!)) < 1e-9)
        let ctfDifference = try maxCTFDifference(star, ps, rows: Array(ps.indices))
        #expect(ctfDifference < 1e-6, "largest CTF difference \(ctfDifference)")
        #expect(star.result.warnings.contains { $0.contains("ctf/shift_A = [0.8, -0.35] Å written as the first-order odd Zernike terms") })
        // The opposite sign gives another CTF: the test sees the term.
        var other = ps
        for i in other.indices { other[i].ctfShift = [-0.8, 0.35] }
        #expect(try maxCTFDifference(star, other, rows: [0]) > 1e-2)
    }

    /// Passthrough files are matched by uid whatever their order; a superset is fine; a passthrough
    /// lacking some uids or holding one twice is refused, naming the file, the count and a uid.
    @Test func passthroughMatchingByUid() throws {
        let ps = Synthetic.particles(20, groups: 2)
        let dir = TemporaryDirectory("cs-shapes")
        let (m, p) = Synthetic.split(ps)
        let main = m.write(to: dir.file("m.cs"))
        // A superset: the passthrough of the job's whole input, of which this job kept 20.
        var bigger = p
        let extra = Synthetic.particles(5, seed: 1234)
        bigger.rows += extra.map { Synthetic.cells($0, alignments: "alignments3D") }
        let superset = try ConvertedStar(CryoSPARCParticles(path: main, passthroughs: [bigger.write(to: dir.file("bigger.cs"))]))
        #expect(superset.result.particles == 20)
        #expect(try superset.particles.strings("rlnImageName") == ps.map { ImageName(index: $0.index + 1, stackPath: $0.stack).text })
        // Missing uids.
        var fewer = p
        fewer.rows.removeFirst(3)   // the last three particles (the passthrough is reversed)
        let fewerPath = fewer.write(to: dir.file("fewer.cs"))
        #expect(throws: CryoSPARCError.passthrough(file: fewerPath, reason: "3 of the 20 particles of \(main) are not in it (first: record 17, uid \(ps[17].uid)); is it the passthrough of another job?")) {
            _ = try CryoSPARCParticles(path: main, passthroughs: [fewerPath])
        }
        // A uid twice.
        var twice = p
        twice.rows.append(twice.rows[0])
        let twicePath = twice.write(to: dir.file("twice.cs"))
        #expect(throws: CryoSPARCError.passthrough(file: twicePath, reason: "uid \(ps[19].uid) appears twice (records 0 and 20)")) {
            _ = try CryoSPARCParticles(path: main, passthroughs: [twicePath])
        }
    }
}
