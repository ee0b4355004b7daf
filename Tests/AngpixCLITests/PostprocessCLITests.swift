// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix postprocess` and `angpix postprocess rescale` (the built binary).

import Testing
import Foundation
import AngpixCore
import AngpixMRC
import AngpixSTAR
import AngpixPostprocess
import AngpixTestSupport

@Suite("angpix postprocess")
struct PostprocessCLITests {
    func maps(_ dir: TemporaryDirectory, n: Int = 40, pixelSize: Double = 1.2) throws -> (half1: String, half2: String, mask: String) {
        try SyntheticHalfMaps(size: n, pixelSize: pixelSize, seed: 21).write(prefix: dir.file("run"))
    }

    @Test func testPostprocessWritesRelionFilesAndJSON() throws {
        let dir = TemporaryDirectory("cli-pp")
        let p = try maps(dir)
        let r = try runAngpix(["postprocess", p.half1, p.half2, "--mask", p.mask, "-o", dir.file("PostProcess"),
                               "--auto-bfactor", "--json", "--plot"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let final = json["finalResolution"] as! Double
        #expect(final > 2.4 && final < 48)
        #expect((json["bFactor"] as! Double) < 0)
        #expect(abs((json["pixelSize"] as! Double) - 1.2) < 1e-5)
        for f in ["postprocess.mrc", "postprocess_masked.mrc", "postprocess.star", "postprocess_fsc.xml",
                  "postprocess_fsc.svg", "postprocess_guinier.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("PostProcess/\(f)")), "\(f) missing")
        }
        let svg = try String(contentsOfFile: dir.file("PostProcess/postprocess_fsc.svg"), encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("0.143"))
        let doc = try STARDocument(path: dir.file("PostProcess/postprocess.star"))
        #expect(abs(Double(doc.block("general")!.value("rlnFinalResolution")!)! - final) < 1e-5)
        // A second run refuses to overwrite without --force.
        let again = try runAngpix(["postprocess", p.half1, p.half2, "--mask", p.mask, "-o", dir.file("PostProcess")])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))
    }

    @Test func testAngpixOverridesTheHeaderEverywhere() throws {
        let dir = TemporaryDirectory("cli-pp")
        let p = try maps(dir)
        let a = try runAngpix(["postprocess", p.half1, p.half2, "--mask", p.mask, "-o", dir.file("a"), "--bfactor", "-100", "--json"])
        let b = try runAngpix(["postprocess", p.half1, p.half2, "--mask", p.mask, "-o", dir.file("b"), "--bfactor", "-100", "--json", "--angpix", "1.1"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        let ja = try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as! [String: Any]
        let jb = try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as! [String: Any]
        #expect(ja["finalResolutionShell"] as! Int == jb["finalResolutionShell"] as! Int)
        #expect(abs((jb["finalResolution"] as! Double) / (ja["finalResolution"] as! Double) - 1.1 / 1.2) < 1e-6)
        let map = try MRCFile.readMap(path: dir.file("b/postprocess.mrc"))
        #expect(abs(map.pixelSize - 1.1) < 1e-5)
    }

    @Test func testDefaultSubcommandAndHelpHaveExamples() throws {
        let h = try runAngpix(["postprocess", "--help"])
        #expect(h.status == 0)
        #expect(h.stdout.contains("Example:") && h.stdout.contains("rescale"))
        let hr = try runAngpix(["postprocess", "rescale", "--help"])
        #expect(hr.stdout.contains("Example:"))
    }

    @Test func testBadInputsExitWithOneLineErrors() throws {
        let dir = TemporaryDirectory("cli-pp-bad")
        let p = try maps(dir, n: 24)
        let other = try SyntheticHalfMaps(size: 28, pixelSize: 1.2).write(prefix: dir.file("other"))
        let shape = try runAngpix(["postprocess", p.half1, other.half2, "--mask", p.mask, "-o", dir.file("x")])
        #expect(shape.status == 1 && shape.stderr.contains("other_half2.mrc"))
        let maskShape = try runAngpix(["postprocess", p.half1, p.half2, "--mask", other.mask, "-o", dir.file("x")])
        #expect(maskShape.status == 1 && maskShape.stderr.contains("other_mask.mrc"))
        var m = try MRCFile.readMap(path: p.mask)
        m.data[0] = 2
        try MRCFile.write(m, to: dir.file("badmask.mrc"), policy: OutputPolicy(overwrite: true))
        let range = try runAngpix(["postprocess", p.half1, p.half2, "--mask", dir.file("badmask.mrc"), "-o", dir.file("x")])
        #expect(range.status == 1 && range.stderr.contains("[0, 1]"))
        var h = try MRCFile.readMap(path: p.half1)
        h.data[10] = .nan
        try MRCFile.write(h, to: dir.file("nan.mrc"), policy: OutputPolicy(overwrite: true))
        let nan = try runAngpix(["postprocess", dir.file("nan.mrc"), p.half2, "--mask", p.mask, "-o", dir.file("x")])
        #expect(nan.status == 1 && nan.stderr.contains("nan.mrc") && nan.stderr.contains("x=10"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("x/postprocess.star")))
        let both = try runAngpix(["postprocess", p.half1, p.half2, "-o", dir.file("x"), "--auto-bfactor", "--bfactor", "-50"])
        #expect(both.status != 0)
        let lowPass = try runAngpix(["postprocess", p.half1, p.half2, "-o", dir.file("x"), "--low-pass", "soon"])
        #expect(lowPass.status != 0 && lowPass.stderr.contains("--low-pass"))
        let star = dir.write("run_data.star", "data_optics\nloop_\n_rlnOpticsGroup\n1\n")
        let rescale = try runAngpix(["postprocess", "rescale", star, "--angpix", "1.0", "--from", "1.1", "-o", dir.file("y")])
        #expect(rescale.status == 1 && rescale.stderr.contains("run_data.star") && rescale.stderr.contains("data_general"))
    }

    @Test func testRescalePrintsOldAndNewResolutionAndRewritesTheMapHeader() throws {
        let dir = TemporaryDirectory("cli-pp-rescale")
        let p = try maps(dir)
        let run = try runAngpix(["postprocess", p.half1, p.half2, "--mask", p.mask, "-o", dir.file("job030"), "--auto-bfactor", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let j = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let final = j["finalResolution"] as! Double, b = j["bFactor"] as! Double
        let r = try runAngpix(["postprocess", "rescale", dir.file("job030/postprocess.star"), "--angpix", "1.14",
                               "--map", dir.file("job030/postprocess.mrc"), "-o", dir.file("fixed")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(String(format: "%.3f Å -> %.3f Å", final, final * 0.95)), "\(r.stdout)")
        let doc = try STARDocument(path: dir.file("fixed/postprocess.star"))
        let newB = Double(doc.block("general")!.value("rlnBfactorUsedForSharpening")!)!
        #expect(abs(newB - b * 0.95 * 0.95) < 0.01)
        let map = try MRCFile.readMap(path: dir.file("fixed/postprocess.mrc"))
        let old = try MRCFile.readMap(path: dir.file("job030/postprocess.mrc"))
        #expect(abs(map.pixelSize - 1.14) < 1e-5)
        #expect(map.data == old.data)
    }

    @Test("rescale of RELION's own postprocess.star agrees with RELION run at the new pixel size",
          .enabled(if: Relion.has("relion_postprocess"), Comment(rawValue: Relion.missing("relion_postprocess"))))
    func testRescaleOfRelionStarMatchesRelionRerun() throws {
        let dir = TemporaryDirectory("cli-pp-relion")
        let p = try maps(dir)
        for (name, extra) in [("a", [String]()), ("b", ["--angpix", "1.1"])] {
            try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
            let r = try runProcess(Relion.path("relion_postprocess")!,
                                   ["--i", p.half1, "--i2", p.half2, "--mask", p.mask, "--o", dir.file("\(name)/postprocess"), "--adhoc_bfac", "-80"] + extra)
            #expect(FileManager.default.fileExists(atPath: dir.file("\(name)/postprocess.star")), "\(r.stderr)")
        }
        let r = try runAngpix(["postprocess", "rescale", dir.file("a/postprocess.star"), "--angpix", "1.1", "-o", dir.file("c/postprocess.star")])
        #expect(r.status == 0, "\(r.stderr)")
        let rescaled = try STARDocument(path: dir.file("c/postprocess.star"))
        let rerun = try STARDocument(path: dir.file("b/postprocess.star"))
        let f1 = try rescaled.block("fsc")!.doubles("rlnAngstromResolution")
        let f2 = try rerun.block("fsc")!.doubles("rlnAngstromResolution")
        #expect(f1.count == f2.count)
        var axis = 0.0
        for i in 0..<min(f1.count, f2.count) { axis = max(axis, abs(f1[i] - f2[i]) / f2[i]) }
        printMeasured("postprocess rescale vs relion_postprocess --angpix 1.1: max relative resolution axis difference", axis)
        #expect(axis < 2e-6, "relative resolution axis difference \(axis)")   // measured 4.1e-7 (2026-12-01): 6-decimal text
        let g1 = Double(rescaled.block("general")!.value("rlnFinalResolution")!)!
        let g2 = Double(rerun.block("general")!.value("rlnFinalResolution")!)!
        printMeasured("postprocess rescale vs relion_postprocess --angpix 1.1: |final resolution difference| (Å)", abs(g1 - g2))
        // Measured 1.0e-6 Å (2026-12-01): both values are written with 6 decimals.
        #expect(abs(g1 - g2) < 3e-6, "final resolution \(g1) vs \(g2) Å")
    }
}
