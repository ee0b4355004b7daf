// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix star join/subset/upgrade` and `angpix check` on the shapes of real files of issue 15
// (Tests/Fixtures/star, producers in its README): optics tables without rlnAmplitudeContrast
// (RELION 5, RELION 4 tomography), tomography files, files with several tables, RELION 3.0 files
// without rlnVoltage, `N@file.mrc` stacks (cryoDRGN), micrograph files.

import Testing
import Foundation
import AngpixSTAR
import AngpixTestSupport

/// `text` with its line wrapping undone (check wraps its lines to the terminal width).
func flat(_ text: String) -> String {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
}

@Suite("STAR files from the field")
struct StarFieldFilesTests {
    // MARK: 1. optics tables without rlnAmplitudeContrast

    @Test("join, subset and check accept RELION 5 run_data.star without rlnAmplitudeContrast")
    func noAmplitudeContrast() throws {
        let dir = TemporaryDirectory()
        let r5 = try corpusPath("relion5_run_data.star")
        let other = dir.write("other.star", try String(contentsOfFile: r5, encoding: .utf8)
            .replacingOccurrences(of: "opticsGroup1", with: "opticsGroup9"))
        let join = try runAngpix(["star", "join", r5, other, "-o", dir.file("joined.star")])
        #expect(join.status == 0, "\(join.stderr)")
        #expect(!join.stderr.contains("no _rlnAmplitudeContrast"))
        let joined = try STARDocument(path: dir.file("joined.star"))
        #expect(joined.block("optics")?.rowCount == 2 && joined.block("particles")?.rowCount == 4)

        let mics = dir.write("mics.star", "data_micrographs\nloop_\n_rlnMicrographName\nMotionCorr/job002/Movies/mic_0001.mrc\n")
        let subset = try runAngpix(["star", "subset", r5, "--micrographs", mics, "-o", dir.file("subset.star")])
        #expect(subset.status == 0, "\(subset.stderr)")

        let check = try runAngpix(["check", "--star", r5])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(!(check.stdout + check.stderr).contains("no _rlnAmplitudeContrast column"))
    }

    @Test("The library: a missing rlnAmplitudeContrast is Q0 = 0 as in RELION; a CTF refuses a table without rlnVoltage")
    func opticsTableColumns() throws {
        let doc = try STARDocument(path: try corpusPath("relion5_run_data.star"))
        let table = try OpticsTable(block: doc.block("optics")!, file: "run_data.star")
        #expect(table.groups[0].amplitudeContrast == 0)
        #expect(table.absentLabels == ["rlnAmplitudeContrast"])
        #expect(table.amplitudeContrastNote?.contains("Q0 = 0") == true)
        try table.requireCTFOptics(file: "run_data.star")
        let noVoltage = try STARDocument(text: "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n1 1.0\n")
        let t2 = try OpticsTable(block: noVoltage.block("optics")!, file: "x.star")
        #expect(t2.groups[0].voltage.isNaN)
        #expect(throws: STARError.self) { try t2.requireCTFOptics(file: "x.star") }
        // RELION 4 tomography: the tilt-series pixel size alone is a pixel size.
        let tomo = try STARDocument(text: "data_optics\nloop_\n_rlnOpticsGroup\n_rlnTomoTiltSeriesPixelSize\n_rlnVoltage\n_rlnSphericalAberration\n1 1.35 300 2.7\n")
        #expect(try OpticsTable(block: tomo.block("optics")!, file: "t.star").groups[0].imagePixelSize == 1.35)
        // The Z40 calibration needs voltage and Cs: a table without rlnVoltage is refused by name.
        let dir = TemporaryDirectory()
        let star = dir.write("novolt.star", "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n_rlnSphericalAberration\n_rlnEvenZernike\n1 1.0 2.7 [0,0,0,0,0,0,0.1]\n")
        let z = try runAngpix(["calibrate", "zernike", star, "--cs-true", "2.7"])
        #expect(z.status == 1)
        #expect(z.stderr.contains("no _rlnVoltage column, which a CTF needs"), "\(z.stderr)")
    }

    // MARK: 6. tomography

    @Test("check recognises tomography files; upgrade refuses them without pretending they are RELION 3.0")
    func tomography() throws {
        let dir = TemporaryDirectory()
        for name in ["relion4_tomograms.star", "relion5_tomograms.star", "relion5_tilt_series_TS_01.star"] {
            let c = try runAngpix(["check", "--star", try corpusPath(name)])
            #expect(c.status == 1)
            #expect(c.stderr.contains("RELION tomography tilt"), "\(c.stderr)")
            #expect(c.stderr.contains("not a particle file"))
            #expect(!(c.stdout + c.stderr).contains("star upgrade"))
            let u = try runAngpix(["star", "upgrade", try corpusPath(name), "-o", dir.file("\(name).out")])
            #expect(u.status == 1)
            #expect(u.stderr.contains("not a RELION 3.0 file"), "\(u.stderr)")
        }
        for (name, kind) in [("relion_default_pipeline.star", "RELION pipeline"), ("relion_postprocess.star", "RELION postprocess"),
                             ("relion_job.star", "RELION job options")] {
            let c = try runAngpix(["check", "--star", try corpusPath(name)])
            #expect(c.status == 1)
            #expect(c.stderr.contains("a \(kind) file, not a particle file"), "\(c.stderr)")
        }
        // RELION 5 picked particles (no optics table): described, no upgrade suggested.
        let picked = try runAngpix(["check", "--star", try corpusPath("relion5_tomo_picked_particles.star")])
        #expect(picked.status == 0, "\(picked.stdout)\(picked.stderr)")
        #expect(flat(picked.stdout).contains("RELION tomography particles without an optics table"))
        #expect(!picked.stdout.contains("upgrade"))
        // RELION 4 particles with optics: checked like any particle file.
        let p4 = try runAngpix(["check", "--star", try corpusPath("relion4_tomo_particles.star")])
        #expect(p4.status == 0, "\(p4.stdout)\(p4.stderr)")
        #expect(flat(p4.stdout).contains("5.400 Å/px box 64"))
    }

    @Test("join keeps RELION 5's data_general (rlnTomoSubTomosAre2DStacks) and refuses mixing 2D stacks with 3D subtomograms")
    func joinKeepsGeneral() throws {
        let dir = TemporaryDirectory()
        let a = try corpusPath("relion5_tomo_particles_2dstacks.star")
        let text = try String(contentsOfFile: a, encoding: .utf8)
        let b = dir.write("b.star", text.replacingOccurrences(of: "TS_01/", with: "TS_02/").replacingOccurrences(of: "TS_01 ", with: "TS_02 "))
        let r = try runAngpix(["star", "join", a, b, "-o", dir.file("joined.star")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("data_general is not carried"))
        let joined = try STARDocument(path: dir.file("joined.star"))
        #expect(joined.blocks.map(\.name) == ["general", "optics", "particles"])
        #expect(joined.block("general")?.string(row: 0, "rlnTomoSubTomosAre2DStacks") == "1")
        #expect(joined.block("particles")?.rowCount == 4)
        #expect(r.stdout.contains("4 rows (2 + 2), 1 optics group\n"), "\(r.stdout)")
        #expect(STARFileKind(joined) == .tomography(.particles2DStacks))
        // 3D subtomograms (rlnTomoSubTomosAre2DStacks 0) cannot join 2D stacks.
        let c = dir.write("c.star", text.replacingOccurrences(of: "_rlnTomoSubTomosAre2DStacks                       1",
                                                             with: "_rlnTomoSubTomosAre2DStacks                       0"))
        let refused = try runAngpix(["star", "join", a, c, "-o", dir.file("mixed.star")])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("rlnTomoSubTomosAre2DStacks"))
    }

    // MARK: 7. several tables

    @Test("join refuses pipeline, job, postprocess and tilt-series files, naming what they are")
    func joinRefusesNonParticleFiles() throws {
        let dir = TemporaryDirectory()
        let cases = [("relion_default_pipeline.star", "RELION pipeline file"), ("relion_job.star", "RELION job options file"),
                     ("relion_postprocess.star", "RELION postprocess file"), ("relion4_tomograms.star", "tilt-series set file")]
        for (name, said) in cases {
            let p = try corpusPath(name)
            let r = try runAngpix(["star", "join", p, p, "-o", dir.file("\(name).out")])
            #expect(r.status == 1, "\(name)")
            #expect(r.stderr.contains(said), "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("\(name).out")))
        }
        // An optics table not named data_optics is not silently dropped.
        let misnamed = try corpusPath("optics_like_first_block.star")
        let r = try runAngpix(["star", "join", misnamed, misnamed, "-o", dir.file("m.star")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("data_ looks like an optics table"), "\(r.stderr)")
        #expect(r.stderr.contains("is not named data_optics"))
        // check and upgrade do not take it for a RELION 3.0 file either.
        let c = try runAngpix(["check", "--star", misnamed])
        #expect(c.status == 1)
        #expect(flat(c.stderr).contains("has rlnOpticsGroup but the file has no data_optics table"), "\(c.stderr)")
        let u = try runAngpix(["star", "upgrade", misnamed, "-o", dir.file("u.star")])
        #expect(u.status == 1)
        #expect(u.stderr.contains("not a RELION 3.0 file"), "\(u.stderr)")
        // Several loops without optics: the particle table is joined, not the first loop.
        let multi = dir.write("multi.star", "data_extra\nloop_\n_rlnSomething\n7\n\n" + (try String(contentsOfFile: try corpusPath("warp_particles.star"), encoding: .utf8)))
        let w = try runAngpix(["star", "join", multi, try corpusPath("warp_particles.star"), "-o", dir.file("w.star")])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(try STARDocument(path: dir.file("w.star")).blocks.first?.rowCount == 4)
        #expect(w.stdout.contains("wrote \(dir.file("w.star")): 4 rows (2 + 2)\n"), "\(w.stdout)")
        #expect(w.stderr.contains("data_extra is not carried"))
    }

    // MARK: 3. RELION 3.0 without rlnVoltage

    @Test("upgrade of a RELION 3.0 file without rlnVoltage names every missing value; the options supply them")
    func upgradeWithoutVoltage() throws {
        let dir = TemporaryDirectory()
        let old = try corpusPath("relion30_particles_no_voltage.star")
        let r = try runAngpix(["star", "upgrade", old, "-o", dir.file("a.star")])
        #expect(r.status == 1)
        for s in ["_rlnVoltage (give --voltage)", "_rlnSphericalAberration (give --cs)", "_rlnAmplitudeContrast (give --q0)"] {
            #expect(r.stderr.contains(s), "\(r.stderr)")
        }
        #expect(!r.stderr.contains("rlnMagnification"))
        let ok = try runAngpix(["star", "upgrade", old, "-o", dir.file("b.star"), "--voltage", "300", "--cs", "0.001", "--q0", "0.07"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("1 opticsGroup1: 1 Å/px, 300 kV, Cs 0.001 mm, Q0 0.07"), "\(ok.stdout)")
        let optics = try STARDocument(path: dir.file("b.star")).block("optics")!
        #expect(try optics.doubles("rlnVoltage") == [300])
        #expect(try optics.doubles("rlnImagePixelSize") == [1])
        // Only one of the two magnification columns: the missing one is named.
        let half = dir.write("half.star", "data_\nloop_\n_rlnImageName\n_rlnVoltage\n_rlnSphericalAberration\n_rlnAmplitudeContrast\n_rlnMagnification\n1@a.mrcs 300 2.7 0.1 50000\n")
        let h = try runAngpix(["star", "upgrade", half, "-o", dir.file("h.star")])
        #expect(h.status == 1)
        #expect(h.stderr.contains("_rlnDetectorPixelSize"), "\(h.stderr)")
        #expect(!h.stderr.contains("no _rlnMagnification and _rlnDetectorPixelSize"))
        // relion_convert_star converts such a file into an optics table without rlnVoltage, Cs and Q0.
        if let convert = Relion.path("relion_convert_star") {
            let rr = try runProcess(convert, ["--i", old, "--o", dir.file("relion.star")], cwd: dir.path)
            #expect(rr.status == 0, "\(rr.stderr)")
            let optics = try #require(try STARDocument(path: dir.file("relion.star")).block("optics"))
            #expect(!optics.has("rlnVoltage") && !optics.has("rlnSphericalAberration") && !optics.has("rlnAmplitudeContrast"))
        } else {
            print(Relion.missing("relion_convert_star"))
        }
    }

    // MARK: 4. N@file.mrc

    @Test("upgrade reads N@stack.mrc (cryoDRGN) as 2D images of a stack and warns that RELION wants .mrcs")
    func upgradeMrcStack() throws {
        let dir = TemporaryDirectory()
        var mrc = RawMRC(n: (128, 128, 3), m: (128, 128, 3), cella: (128 * 4.25, 128 * 4.25, 3 * 4.25))
        mrc.data = [UInt8](repeating: 0, count: 128 * 128 * 3 * 4)
        mrc.write(to: dir.file("particles.128.mrc"))
        let star = dir.write("cryodrgn.star", try String(contentsOfFile: try corpusPath("cryodrgn_particles_mrc_stack.star"), encoding: .utf8))
        let r = try runAngpix(["star", "upgrade", star, "-o", dir.file("up.star"), "--project", dir.path, "--angpix", "4.25"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("box 128, 2D"), "\(r.stdout)")
        #expect(r.stderr.contains("particles.128.mrc is referenced as N@particles.128.mrc"))
        #expect(r.stderr.contains(".mrcs"))
        let optics = try STARDocument(path: dir.file("up.star")).block("optics")!
        #expect(try optics.ints("rlnImageSize") == [128])
        #expect(try optics.ints("rlnImageDimensionality") == [2])
    }

    // MARK: 5. micrographs

    @Test("upgrade of micrographs writes rlnMicrographOriginalPixelSize like relion_convert_star")
    func upgradeMicrographs() throws {
        let dir = TemporaryDirectory()
        let old = dir.write("mic30.star", """

        data_

        loop_
        _rlnMicrographName #1
        _rlnCtfImage #2
        _rlnDefocusU #3
        _rlnVoltage #4
        _rlnSphericalAberration #5
        _rlnAmplitudeContrast #6
        _rlnMagnification #7
        _rlnDetectorPixelSize #8
        MotionCorr/job002/a.mrc CtfFind/job003/a.ctf:mrc 10000 300 2.7 0.1 10000 1.06
        MotionCorr/job002/b.mrc CtfFind/job003/b.ctf:mrc 12000 300 2.7 0.1 10000 1.06

        """)
        let r = try runAngpix(["star", "upgrade", old, "-o", dir.file("ours.star")])
        #expect(r.status == 0, "\(r.stderr)")
        let mine = try STARDocument(path: dir.file("ours.star"))
        let optics = try #require(mine.block("optics"))
        #expect(try optics.doubles("rlnMicrographOriginalPixelSize") == [1.06])
        #expect(try optics.doubles("rlnMicrographPixelSize") == [1.06])
        guard let convert = Relion.path("relion_convert_star") else {
            print(Relion.missing("relion_convert_star")); return
        }
        let rr = try runProcess(convert, ["--i", old, "--o", dir.file("relion.star")], cwd: dir.path)
        #expect(rr.status == 0, "\(rr.stderr)")
        let theirs = try STARDocument(path: dir.file("relion.star"))
        for table in ["optics", "micrographs"] {
            let x = try #require(mine.block(table)), y = try #require(theirs.block(table))
            #expect(x.labels == y.labels, "\(table) labels")
            for l in x.labels {
                let u = try x.strings(l), v = try y.strings(l)
                for (p, q) in zip(u, v) {
                    if let a = Double(p), let b = Double(q) { #expect(a == b, "\(table) \(l)") } else { #expect(p == q, "\(table) \(l)") }
                }
            }
        }
    }

    // MARK: 8. messages

    @Test("check's line for RELION 3.0 files reads as a sentence")
    func checkRelion30Wording() throws {
        let dir = TemporaryDirectory()
        let noMag = dir.write("nomag.star", "data_\nloop_\n_rlnImageName\n_rlnDefocusU\n1@a.mrcs 10000\n")
        let a = try runAngpix(["check", "--star", noMag])
        #expect(flat(a.stdout).contains("1 particle, RELION 3.0 file (no optics table) without rlnMagnification/rlnDetectorPixelSize: pixel size unknown"), "\(a.stdout)")
        #expect(!a.stdout.contains("()"))
        let warp = try runAngpix(["check", "--star", try corpusPath("warp_particles.star")])
        #expect(flat(warp.stdout).contains("2 particles, RELION 3.0 file (no optics table), pixel size 1.058 Å/px"), "\(warp.stdout)")
        #expect(!flat(warp.stdout).contains("pixel size 1.058 1.058"))
        // Micrograph and movie files are counted as such.
        let mics = try runAngpix(["check", "--star", try corpusPath("relion31_micrographs.star")])
        #expect(flat(mics.stdout).contains("2 micrographs, 1 optics group"), "\(mics.stdout)")
        let movies = try runAngpix(["check", "--star", try corpusPath("relion31_movies.star")])
        #expect(flat(movies.stdout).contains("3 movies, 1 optics group"), "\(movies.stdout)")
    }
}
