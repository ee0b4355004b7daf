// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix optics trace`: the reference text's two-group example and the
// 0.98 → 0.96 trap.

import Foundation
import Testing
import AngpixTestSupport

private func opticsStar(_ rows: [String], magMat: Bool = true) -> String {
    var labels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                  "rlnVoltage", "rlnImagePixelSize", "rlnMicrographOriginalPixelSize", "rlnImageSize", "rlnImageDimensionality"]
    if magMat { labels += ["rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11"] }
    var t = "# version 30001\n\ndata_optics\n\nloop_\n"
    for (i, l) in labels.enumerated() { t += "_\(l) #\(i + 1)\n" }
    for r in rows { t += r + "\n" }
    t += "\n# version 30001\n\ndata_particles\n\nloop_\n_rlnImageName #1\n_rlnOpticsGroup #2\n"
    t += "000001@Extract/job007/a.mrcs 1\n000001@Extract/job008/b.mrcs \(rows.count)\n"
    return t
}

private let twoGroups = opticsStar([
    "1 dataset1 0.1 2.7 300.0 1.000000 1.000000 140 2 0.990000 0.000000 0.000000 0.990000",
    "2 dataset2 0.1 2.7 300.0 0.950000 0.950000 148 2 1.045000 0.000000 0.000000 1.045000",
])

@Test func testTrustingGroup1At1Point00GivesMap0Point990AndGroup2At0Point900() throws {
    let dir = TemporaryDirectory()
    let star = dir.write("run_data.star", twoGroups)
    let r = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.00", "--trusted-group", "1=1.00"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("truly 0.9900 Å/px"))
    #expect(r.stdout.contains("0.9000"))     // group 2, not …
    #expect(r.stdout.contains("0.9091"))     // … 0.95 / 1.045, which is shown as the naive value
    #expect(r.stdout.contains("0.9474"))     // group 2's particles after relion_refine's shrinking
    #expect(r.stdout.contains("1.0450"))
    #expect(r.stderr.isEmpty)

    let j = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.00", "--trusted-group", "1=1.00", "--json"])
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
    #expect(abs((obj["mapTruePixelSize"] as? Double ?? 0) - 0.990) < 1e-9)
    let groups = try #require(obj["groups"] as? [[String: Any]])
    #expect(abs((groups[1]["truePixelSize"] as? Double ?? 0) - 0.900) < 1e-9)
    #expect(abs((groups[1]["truePixelSizeAfterRescaling"] as? Double ?? 0) - 0.947) < 0.0005)
    #expect(abs((groups[0]["magnification"] as? Double ?? 0) - 0.9900) < 1e-9)
    #expect(abs((groups[1]["magnification"] as? Double ?? 0) - 1.045) < 1e-9)
}

@Test func testTrustingTheMapAt0Point99GivesGroupsAt1Point00And0Point90() throws {
    let dir = TemporaryDirectory()
    let star = dir.write("run_data.star", twoGroups)
    let r = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.00", "--trusted-map", "0.99", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let groups = try #require(obj["groups"] as? [[String: Any]])
    #expect(abs((groups[0]["truePixelSize"] as? Double ?? 0) - 1.00) < 1e-9)
    #expect(abs((groups[1]["truePixelSize"] as? Double ?? 0) - 0.90) < 1e-9)
}

@Test func testReferenceFromCorrectedPostProcessWarnsOfThe0Point96Trap() throws {
    let dir = TemporaryDirectory()
    let star = dir.write("one.star", opticsStar(["1 g 0.1 2.7 300.0 1.000000 1.000000 140 2"], magMat: false))
    let r = try runAngpix(["optics", "trace", star, "--reference-angpix", "0.98"])
    #expect(r.status == 0)
    #expect(r.stderr.contains("warning"))
    #expect(r.stderr.contains("0.9604"))
    let ok = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.00"])
    #expect(ok.status == 0)
    #expect(!ok.stderr.contains("0.96"))
}

@Test func testOpticsTraceRejectsBadInput() throws {
    let dir = TemporaryDirectory()
    let singular = opticsStar(["1 g 0.1 2.7 300.0 1.000000 1.000000 140 2 1.0 2.0 0.5 1.0"])
    let zeroPixel = opticsStar(["1 g 0.1 2.7 300.0 0.000000 1.000000 140 2 1.0 0.0 0.0 1.0"])
    let noPixel = twoGroups.replacingOccurrences(of: "_rlnImagePixelSize", with: "_rlnSomethingElse")
        .replacingOccurrences(of: "_rlnMicrographOriginalPixelSize", with: "_rlnOther")
    let cases: [(String, [String], String)] = [
        (singular, ["--reference-angpix", "1.0"], "not invertible"),
        (zeroPixel, ["--reference-angpix", "1.0"], "not positive"),
        (noPixel, ["--reference-angpix", "1.0"], "rlnImagePixelSize"),
        (twoGroups, ["--reference-angpix", "0"], "reference pixel size"),
        (twoGroups, ["--reference-angpix", "1.0", "--trusted-group", "3=1.0"], "no optics group 3"),
        (twoGroups, ["--reference-angpix", "1.0", "--trusted-group", "1:1.0"], "G=PX"),
    ]
    for (i, (text, args, message)) in cases.enumerated() {
        let star = dir.write("bad\(i).star", text)
        let r = try runAngpix(["optics", "trace", star] + args)
        #expect(r.status == 1, "case \(i): \(r.status) \(r.stderr)")
        #expect(r.stderr.contains(message), "case \(i): \(r.stderr)")
    }
}

@Test func testOpticsTraceAndCalibrateZernikeHelpHaveExamples() throws {
    for args in [["optics", "trace", "--help"], ["calibrate", "zernike", "--help"]] {
        let r = try runAngpix(args)
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example:"), "\(args)")
    }
    let both = try runAngpix(["optics", "trace", "x.star", "--reference-angpix", "1", "--trusted-group", "1=1", "--trusted-map", "1"])
    #expect(both.status != 0)
    #expect(both.stderr.contains("not both"))
}
