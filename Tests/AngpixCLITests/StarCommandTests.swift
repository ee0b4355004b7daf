// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix star info/join/subset/upgrade` end to end, including the bad-input cases, and
// comparisons with RELION 3.1.3's relion_star_handler --combine and relion_convert_star.

import Testing
import Foundation
import AngpixSTAR
import AngpixMRC
import AngpixCore
import AngpixTestSupport

/// A RELION 3.1 particle file like the reference text's Dataset1/Dataset2 examples.
func relionParticles(name: String, pixel: String, box: Int, stack: String, micrographs: [String], perMicrograph: Int = 2,
                     extraLabel: String? = nil) -> String {
    var t = relionOpticsBlock([TestOpticsGroup(name: name, pixelSize: pixel, box: box)]) + """

    # version 30001

    data_particles

    loop_ 
    _rlnCoordinateX #1 
    _rlnCoordinateY #2 
    _rlnImageName #3 
    _rlnMicrographName #4 
    _rlnDefocusU #5 
    _rlnOpticsGroup #6 

    """
    if let extraLabel { t += "_\(extraLabel) #7 \n" }
    var k = 0
    for m in micrographs {
        for _ in 0..<perMicrograph {
            k += 1
            t += String(format: "%12.6f %12.6f %06d@%@ %@ %12.6f %12d%@\n", Double(k) * 10.5, Double(k) * 3.25, k, stack, m,
                        10000 + Double(k) * 1.5e-5, 1, extraLabel == nil ? "" : " 0.5")
        }
    }
    return t
}

@Suite struct StarCommandTests {
    @Test func testJoinRenumbersSecondOpticsGroupTo2() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("Dataset1.star", relionParticles(name: "dataset1", pixel: "1.000000", box: 140, stack: "Extract/d1.mrcs", micrographs: ["mics/a1.mrc"]))
        let b = dir.write("Dataset2.star", relionParticles(name: "dataset2", pixel: "1.100000", box: 128, stack: "Extract/d2.mrcs", micrographs: ["mics/b1.mrc"]))
        let out = dir.file("joined.star")
        let r = try runAngpix(["star", "join", a, b, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try STARDocument(path: out)
        let optics = try OpticsTable(block: try #require(doc.block("optics")), file: out)
        #expect(optics.groups.map(\.number) == [1, 2])
        #expect(optics.groups.map(\.name) == ["dataset1", "dataset2"])
        #expect(optics.groups.map(\.imagePixelSize) == [1.0, 1.1])
        #expect(optics.groups.map(\.imageSize) == [140, 128])
        let particles = try #require(doc.block("particles"))
        #expect(try particles.ints("rlnOpticsGroup") == [1, 1, 2, 2])
        // Unchanged values keep their text.
        #expect(try particles.strings("rlnDefocusU")[0] == "10000.000015")
        #expect(r.stdout.contains("Dataset2.star: optics group 1 'dataset2' -> 2"))
    }

    @Test func joinRefusesSameNameWithDifferentOptics() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("a.star", relionParticles(name: "dataset1", pixel: "1.000000", box: 140, stack: "a.mrcs", micrographs: ["a.mrc"]))
        let b = dir.write("b.star", relionParticles(name: "dataset1", pixel: "1.100000", box: 128, stack: "b.mrcs", micrographs: ["b.mrc"]))
        let out = dir.file("joined.star")
        let r = try runAngpix(["star", "join", a, b, "-o", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(b):16: optics group 'dataset1' also exists in \(a) with different optics"))
        #expect(r.stderr.contains("rlnImagePixelSize 1.000000 vs 1.100000"))
        #expect(r.stderr.contains("rlnImageSize 140 vs 128"))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(dir.listing() == ["a.star", "b.star"])
        // With --rename-conflicts the second group becomes dataset1_2.
        let r2 = try runAngpix(["star", "join", a, b, "-o", out, "--rename-conflicts"])
        #expect(r2.status == 0, "\(r2.stderr)")
        let optics = try OpticsTable(block: try STARDocument(path: out).block("optics")!, file: out)
        #expect(optics.groups.map(\.name) == ["dataset1", "dataset1_2"])
        #expect(optics.groups.map(\.imagePixelSize) == [1.0, 1.1])
        #expect(try STARDocument(path: out).block("particles")!.ints("rlnOpticsGroup") == [1, 1, 2, 2])
    }

    @Test func joinMergesIdenticalGroupsAndDropsOrFillsColumns() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("a.star", relionParticles(name: "g", pixel: "1.000000", box: 140, stack: "a.mrcs", micrographs: ["a.mrc"], extraLabel: "rlnAnglePsi"))
        let b = dir.write("b.star", relionParticles(name: "g", pixel: "1.0", box: 140, stack: "b.mrcs", micrographs: ["b.mrc"]))
        let out = dir.file("j.star")
        let r = try runAngpix(["star", "join", a, b, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("dropped column _rlnAnglePsi of data_particles: only in \(a)"))
        let doc = try STARDocument(path: out)
        #expect(doc.block("optics")!.rowCount == 1)
        #expect(!doc.block("particles")!.has("rlnAnglePsi"))
        #expect(try doc.block("particles")!.ints("rlnOpticsGroup") == [1, 1, 1, 1])
        let r2 = try runAngpix(["star", "join", a, b, "-o", out, "--force", "--fill", "rlnAnglePsi=0"])
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(try STARDocument(path: out).block("particles")!.doubles("rlnAnglePsi") == [0.5, 0.5, 0, 0])
    }

    @Test func joinReportsDuplicates() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("a.star", relionParticles(name: "g1", pixel: "1.000000", box: 140, stack: "same.mrcs", micrographs: ["a.mrc"]))
        let b = dir.write("b.star", relionParticles(name: "g2", pixel: "1.100000", box: 128, stack: "same.mrcs", micrographs: ["b.mrc"]))
        let r = try runAngpix(["star", "join", a, b, "-o", dir.file("j.star"), "--check-duplicates", "rlnImageName"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("2 rows repeat an earlier rlnImageName"))
        #expect(r.stderr.contains("000001@same.mrcs ×2 at \(a):30, \(b):30"))
    }

    @Test func joinOfMicrographFilesRefusesDifferentPixelSizes() throws {
        let dir = TemporaryDirectory()
        func mics(_ px: String, _ m: String) -> String {
            "data_optics\nloop_\n_rlnOpticsGroup\n_rlnOpticsGroupName\n_rlnAmplitudeContrast\n_rlnSphericalAberration\n_rlnVoltage\n_rlnMicrographPixelSize\n1 opticsGroup1 0.1 2.7 300 \(px)\n\ndata_micrographs\nloop_\n_rlnMicrographName\n_rlnOpticsGroup\n\(m) 1\n"
        }
        let a = dir.write("m1.star", mics("1.0", "a.mrc")), b = dir.write("m2.star", mics("1.1", "b.mrc"))
        let r = try runAngpix(["star", "join", a, b, "-o", dir.file("j.star")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("rlnMicrographPixelSize 1.0 vs 1.1"))
        let r2 = try runAngpix(["star", "join", a, b, "-o", dir.file("j.star"), "--rename-conflicts"])
        #expect(r2.status == 0)
        let doc = try STARDocument(path: dir.file("j.star"))
        #expect(try doc.block("micrographs")!.ints("rlnOpticsGroup") == [1, 2])
    }

    @Test func subsetKeepsParticlesOfListedMicrographs() throws {
        let dir = TemporaryDirectory()
        let p = dir.write("run_data.star", relionParticles(name: "g", pixel: "1.000000", box: 140, stack: "s.mrcs",
                                                         micrographs: ["MotionCorr/job002/a.mrc", "MotionCorr/job002/b.mrc", "MotionCorr/job009/c.mrc"], perMicrograph: 3))
        let m = dir.write("corrected_micrographs.star", "data_optics\nloop_\n_rlnOpticsGroup\n_rlnMicrographPixelSize\n_rlnVoltage\n_rlnSphericalAberration\n_rlnAmplitudeContrast\n1 1.0 300 2.7 0.1\n\ndata_micrographs\nloop_\n_rlnMicrographName\n_rlnOpticsGroup\nMotionCorr/job002/a.mrc 1\nMotionCorr/job002/b.mrc 1\nMotionCorr/job002/empty.mrc 1\n")
        let out = dir.file("subset.star")
        let r = try runAngpix(["star", "subset", p, "--micrographs", m, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("6 of 9 particles, from 2 of the 3 listed micrographs"))
        #expect(r.stdout.contains("MotionCorr/job002/empty.mrc"))
        let doc = try STARDocument(path: out)
        #expect(try doc.block("particles")!.strings("rlnMicrographName") == ["MotionCorr/job002/a.mrc", "MotionCorr/job002/a.mrc", "MotionCorr/job002/a.mrc",
                                                                             "MotionCorr/job002/b.mrc", "MotionCorr/job002/b.mrc", "MotionCorr/job002/b.mrc"])
        // The optics table is copied unchanged.
        #expect(doc.serialized().hasPrefix(String(try String(contentsOfFile: p, encoding: .utf8).prefix(200))))
    }

    @Test func upgradeFillsImageSizeFromStacks() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("Extract"), withIntermediateDirectories: true)
        try MRCFile.write(MRCMap(nx: 64, ny: 64, nz: 2, pixelSize: 1.4), to: dir.file("Extract/a.mrcs"), policy: OutputPolicy(), isStack: true)
        let old = dir.write("old.star", """
        data_
        loop_
        _rlnImageName #1
        _rlnMicrographName #2
        _rlnVoltage #3
        _rlnSphericalAberration #4
        _rlnAmplitudeContrast #5
        _rlnMagnification #6
        _rlnDetectorPixelSize #7
        _rlnOriginX #8
        _rlnOriginY #9
        000001@Extract/a.mrcs m.mrc 300 2.7 0.1 50000 7.0 1.5 -2
        000002@Extract/a.mrcs m.mrc 300 2.7 0.1 50000 7.0 0 1
        """)
        let out = dir.file("new.star")
        let r = try runAngpix(["star", "upgrade", old, "-o", out, "--project", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try STARDocument(path: out)
        let g = try #require(try OpticsTable(block: doc.block("optics")!, file: out).group(1))
        #expect(g.imagePixelSize == 1.4)
        #expect(g.imageSize == 64)
        #expect(g.imageDimensionality == 2)
        let p = try #require(doc.block("particles"))
        #expect(try p.doubles("rlnOriginXAngst") == [2.1, 0])
        #expect(try p.doubles("rlnOriginYAngst") == [-2.8, 1.4])
        #expect(!p.has("rlnOriginX") && !p.has("rlnVoltage") && !p.has("rlnMagnification"))
        // Without the stacks it says so.
        let r2 = try runAngpix(["star", "upgrade", old, "-o", dir.file("new2.star"), "--project", dir.file("nowhere")])
        #expect(r2.status == 0)
        #expect(r2.stderr.contains("not found"))
        #expect(try STARDocument(path: dir.file("new2.star")).block("optics")!.has("rlnImageSize") == false)
    }

    @Test func infoListsBlocksAndOpticsGroups() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("a.star", relionParticles(name: "dataset1", pixel: "1.000000", box: 140, stack: "a.mrcs", micrographs: ["a.mrc", "b.mrc"]))
        let r = try runAngpix(["star", "info", a])
        #expect(r.status == 0)
        #expect(r.stdout.contains("data_particles     loop  4 rows, 6 columns"))
        #expect(r.stdout.contains("dataset1"))
        let j = try runAngpix(["star", "info", a, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        let groups = obj["opticsGroups"] as! [[String: Any]]
        #expect(groups.first?["pixelSize"] as? Double == 1.0)
        #expect(groups.first?["imageSize"] as? Int == 140)
        #expect(groups.first?["rows"] as? Int == 4)
    }

    @Test func badInputExitsWithFileAndLineAndLeavesNothing() throws {
        let dir = TemporaryDirectory()
        let good = dir.write("good.star", relionParticles(name: "g", pixel: "1.000000", box: 140, stack: "a.mrcs", micrographs: ["a.mrc"]))
        let bad = dir.write("bad.star", relionParticles(name: "h", pixel: "1.000000", box: 140, stack: "b.mrcs", micrographs: ["b.mrc"])
            .replacingOccurrences(of: "000002@b.mrcs b.mrc", with: "000002@b.mrcs"))
        let out = dir.file("out.star")
        let r = try runAngpix(["star", "join", good, bad, "-o", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(bad):31: row has 5 values, the table has 6 columns"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let missing = try runAngpix(["star", "info", dir.file("nope.star")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope.star: no such file"))
        let noOptics = dir.write("noopt.star", "data_particles\nloop_\n_rlnImageName #1\n_rlnOpticsGroup #2\n1@a.mrcs 1\n")
        let r3 = try runAngpix(["star", "join", good, noOptics, "-o", out])
        #expect(r3.status == 1)
        #expect(r3.stderr.contains("noopt.star: has no data_optics table"))
        // An existing output is not overwritten without --force.
        FileManager.default.createFile(atPath: out, contents: Data("keep".utf8))
        let r4 = try runAngpix(["star", "join", good, good, "-o", out])
        #expect(r4.status == 1)
        #expect(r4.stderr.contains("already exists"))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "keep")
    }
}

@Suite struct StarRelionComparisonTests {
    @Test(.enabled(if: Relion.has("relion_star_handler"), Comment(rawValue: Relion.missing("relion_star_handler"))))
    func joinMatchesRelionStarHandlerCombine() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("d1.star", relionParticles(name: "dataset1", pixel: "1.000000", box: 140, stack: "Extract/d1.mrcs", micrographs: ["a.mrc", "b.mrc"]))
        let b = dir.write("d2.star", relionParticles(name: "dataset2", pixel: "1.100000", box: 128, stack: "Extract/d2.mrcs", micrographs: ["c.mrc"]))
        // A third file with two groups: a new one first, then one identical to dataset1.
        let c = dir.write("d3.star", """
        data_optics
        loop_
        _rlnOpticsGroup
        _rlnOpticsGroupName
        _rlnAmplitudeContrast
        _rlnSphericalAberration
        _rlnVoltage
        _rlnImagePixelSize
        _rlnMicrographOriginalPixelSize
        _rlnImageSize
        _rlnImageDimensionality
        1 other 0.1 2.7 300 0.9 0.9 160 2
        2 dataset1 0.1 2.7 300 1.0 1.0 140 2

        data_particles
        loop_
        _rlnCoordinateX
        _rlnCoordinateY
        _rlnImageName
        _rlnMicrographName
        _rlnDefocusU
        _rlnOpticsGroup
        5 6 1@Extract/d3.mrcs e.mrc 12000 2
        7 8 2@Extract/d3.mrcs e.mrc 13000 1
        """)
        let ours = dir.file("ours.star"), theirs = dir.file("relion.star")
        let r = try runAngpix(["star", "join", a, b, c, "-o", ours])
        #expect(r.status == 0, "\(r.stderr)")
        let rr = try runProcess(Relion.path("relion_star_handler")!, ["--combine", "--i", "\(a) \(b) \(c)", "--o", theirs])
        #expect(rr.status == 0, "\(rr.stderr)")
        // Same values; RELION re-formats numbers, angpix keeps the input's text.
        let mine = try STARDocument(path: ours)
        // Measured (2026-12-01): every number equal in value (11 written differently, e.g. 1.0 / 1.000000).
        try expectSameTables(mine, try STARDocument(path: theirs), what: "star join vs relion_star_handler --combine")
        #expect(try mine.block("particles")!.ints("rlnOpticsGroup") == [1, 1, 1, 1, 2, 2, 1, 3])
    }

    @Test(.enabled(if: Relion.has("relion_star_handler"), Comment(rawValue: Relion.missing("relion_star_handler"))))
    func relionSilentlyMergesSameNameDifferentOpticsWhereAngpixRefuses() throws {
        let dir = TemporaryDirectory()
        let a = dir.write("a.star", relionParticles(name: "dataset1", pixel: "1.000000", box: 140, stack: "a.mrcs", micrographs: ["a.mrc"]))
        let b = dir.write("b.star", relionParticles(name: "dataset1", pixel: "1.100000", box: 128, stack: "b.mrcs", micrographs: ["b.mrc"]))
        let theirs = dir.file("relion.star")
        let rr = try runProcess(Relion.path("relion_star_handler")!, ["--combine", "--i", "\(a) \(b)", "--o", theirs])
        #expect(rr.status == 0)
        // RELION: one group, with the first file's 1.0 Å/px for all particles (the second dataset is corrupted).
        let relion = try OpticsTable(block: try STARDocument(path: theirs).block("optics")!, file: theirs)
        #expect(relion.groups.count == 1 && relion.groups[0].imagePixelSize == 1.0)
        // angpix: refused.
        let r = try runAngpix(["star", "join", a, b, "-o", dir.file("ours.star")])
        #expect(r.status == 1)
    }

    @Test(.enabled(if: Relion.has("relion_convert_star"), Comment(rawValue: Relion.missing("relion_convert_star"))))
    func upgradeMatchesRelionConvertStar() throws {
        let dir = TemporaryDirectory()
        let old = dir.write("old.star", """

        data_

        loop_ 
        _rlnCoordinateX #1 
        _rlnImageName #2 
        _rlnMicrographName #3 
        _rlnVoltage #4 
        _rlnDefocusU #5 
        _rlnSphericalAberration #6 
        _rlnAmplitudeContrast #7 
        _rlnMagnification #8 
        _rlnDetectorPixelSize #9 
        _rlnOriginX #10 
        _rlnOriginY #11 
          100.0 000001@Extract/a.mrcs mics/a.mrc 300.0 10000.0 2.7 0.1 50000.0 7.0 1.5 -2.0
          110.0 000002@Extract/a.mrcs mics/a.mrc 300.0 11000.0 2.7 0.1 50000.0 7.0 0.5 2.0
          120.0 000001@Extract/b.mrcs mics/b.mrc 200.0 12000.0 2.7 0.1 50000.0 7.0 0.0 0.0
          130.0 000002@Extract/b.mrcs mics/b.mrc 300.0 12000.0 2.7 0.1 50000.0 5.0 -1.0 0.0
        """)
        let ours = dir.file("ours.star"), theirs = dir.file("relion.star")
        let r = try runAngpix(["star", "upgrade", old, "-o", ours, "--project", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let rr = try runProcess(Relion.path("relion_convert_star")!, ["--i", old, "--o", theirs], cwd: dir.path)
        #expect(rr.status == 0, "\(rr.stderr)")
        // Stacks are absent here, so neither adds rlnImageSize.
        let mine = try STARDocument(path: ours)
        // Measured (2026-12-01): every number equal in value (10 written differently, e.g. 1.4 / 1.400000).
        try expectSameTables(mine, try STARDocument(path: theirs), what: "star upgrade vs relion_convert_star")
        #expect(try mine.block("particles")!.ints("rlnOpticsGroup") == [1, 1, 2, 3])
    }
}

/// Expects the optics and particle tables of two documents to have the same labels, rows and
/// values: numbers equal in value (RELION re-formats them, e.g. 1.0 as 1.000000), other text
/// exactly. Prints the largest relative difference and how many numbers are spelled differently.
func expectSameTables(_ mine: STARDocument, _ relion: STARDocument, what: String,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
    var worst = 0.0, differingTexts = 0
    for table in ["optics", "particles"] {
        let x = try #require(mine.block(table), sourceLocation: sourceLocation)
        let y = try #require(relion.block(table), sourceLocation: sourceLocation)
        #expect(x.labels == y.labels, "\(table) labels", sourceLocation: sourceLocation)
        #expect(x.rowCount == y.rowCount, "\(table) rows", sourceLocation: sourceLocation)
        for l in x.labels where y.has(l) {
            let u = try x.strings(l), v = try y.strings(l)
            for i in 0..<min(u.count, v.count) {
                if let p = Double(u[i]), let q = Double(v[i]) {
                    worst = max(worst, abs(p - q) / max(1, abs(p)))
                    if u[i] != v[i] { differingTexts += 1 }
                    #expect(p == q, "\(what): \(table) \(l) row \(i): \(u[i]) vs \(v[i])",
                            sourceLocation: sourceLocation)
                } else {
                    #expect(u[i] == v[i], "\(table) \(l) row \(i)", sourceLocation: sourceLocation)
                }
            }
        }
    }
    printMeasured("\(what): max relative number difference", worst)
    print("measured: \(what): \(differingTexts) numbers written differently (same value or not)")
}
