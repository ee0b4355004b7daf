// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix calibrate zernike`: the true pixel size from Z40 and a trusted Cs.

import Foundation
import Testing
import AngpixTestSupport

/// RELION's relativistic wavelength (Å), written out independently of the library.
private func lambda(_ kV: Double) -> Double {
    let v = kV * 1000
    return 12.2643247 / (v * (1 + 0.978466e-6 * v)).squareRoot()
}

/// The Z40 coefficient CtfRefine would fit when the nominal pixel size is `nominal` but the truth is `truth`.
private func z40(cs: Double, kV: Double, nominal: Double, truth: Double) -> Double {
    let apparent = cs * pow(nominal / truth, 4)
    return (apparent - cs) * 1e7 * Double.pi * pow(lambda(kV), 3) / 12
}

private func evenZernike(_ z40: Double) -> String {
    "[0.1,0.2,-0.3,0.05,1.5,-2.0,\(z40),0.7,-0.4]"
}

private func opticsStar(_ rows: [String], zernike: Bool = true) -> String {
    var labels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                  "rlnVoltage", "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality"]
    if zernike { labels.append("rlnEvenZernike") }
    var t = "# version 30001\n\ndata_optics\n\nloop_\n"
    for (i, l) in labels.enumerated() { t += "_\(l) #\(i + 1)\n" }
    for r in rows { t += r + "\n" }
    t += "\n# version 30001\n\ndata_particles\n\nloop_\n_rlnImageName #1\n_rlnOpticsGroup #2\n_rlnDefocusU #3\n"
    t += "000001@Extract/job007/a.mrcs 1 10000.0\n"
    return t
}

@Test func testZernikeCalibrationRecovers0Point51From0Point54() throws {
    let dir = TemporaryDirectory()
    let z1 = z40(cs: 2.7, kV: 300, nominal: 0.54, truth: 0.51)
    let z2 = z40(cs: 2.7, kV: 200, nominal: 1.06, truth: 1.00)
    let star = dir.write("particles.star", opticsStar([
        "1 fast 0.1 2.7 300.0 0.540000 400 2 \(evenZernike(z1))",
        "2 slow 0.1 2.7 200.0 1.060000 200 2 \(evenZernike(z2))",
    ]))
    let r = try runAngpix(["calibrate", "zernike", star, "--cs-true", "2.7"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("3.3936"))     // Cs apparent = 2.7 × (0.54/0.51)⁴
    #expect(r.stdout.contains("0.5100"))
    #expect(r.stdout.contains("1.0000"))
    #expect(r.stdout.contains("+5.88 %"))
    #expect(r.stdout.contains("Cs_true"))
    #expect(r.stdout.contains("voltage"))

    let j = try runAngpix(["calibrate", "zernike", star, "--cs-true", "2.7", "--json"])
    #expect(j.status == 0)
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
    let groups = try #require(obj["groups"] as? [[String: Any]])
    #expect(groups.count == 2)
    #expect(abs((groups[0]["truePixelSize"] as? Double ?? 0) - 0.51) < 1e-6)
    #expect(abs((groups[1]["truePixelSize"] as? Double ?? 0) - 1.00) < 1e-6)
    #expect(abs((groups[0]["z40"] as? Double ?? 0) - z1) < 1e-6 * abs(z1))
    #expect((obj["note"] as? String)?.contains("voltage") == true)
}

@Test func testZernikeCalibrationWithWrongCsTrueGivesAnotherAnswer() throws {
    let dir = TemporaryDirectory()
    let z1 = z40(cs: 2.7, kV: 300, nominal: 0.54, truth: 0.51)
    let star = dir.write("p.star", opticsStar(["1 g 0.1 2.7 300.0 0.540000 400 2 \(evenZernike(z1))"]))
    let r = try runAngpix(["calibrate", "zernike", star, "--cs-true", "2.0", "--json"])
    #expect(r.status == 0)
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let g = try #require((obj["groups"] as? [[String: Any]])?.first)
    // 0.54 × (2.0 / 3.3936)^(1/4)
    #expect(abs((g["truePixelSize"] as? Double ?? 0) - 0.54 * pow(2.0 / (2.7 * pow(0.54 / 0.51, 4)), 0.25)) < 1e-6)
}

@Test func testGroupWithoutZernikeTermsIsReportedAndExitsWithStatus1() throws {
    let dir = TemporaryDirectory()
    let z1 = z40(cs: 2.7, kV: 300, nominal: 0.54, truth: 0.51)
    let star = dir.write("p.star", opticsStar([
        "1 good 0.1 2.7 300.0 0.540000 400 2 \(evenZernike(z1))",
        "2 short 0.1 2.7 300.0 0.540000 400 2 [0.1,0.2,0.3]",
    ]))
    let r = try runAngpix(["calibrate", "zernike", star, "--cs-true", "2.7"])
    #expect(r.status == 1)
    #expect(r.stdout.contains("0.5100"))
    #expect(r.stdout.contains("3 coefficients"))
    #expect(r.stderr.contains("optics group 2"))

    let none = dir.write("none.star", opticsStar(["1 g 0.1 2.7 300.0 0.540000 400 2"], zernike: false))
    let n = try runAngpix(["calibrate", "zernike", none, "--cs-true", "2.7"])
    #expect(n.status == 1)
    #expect(n.stderr.contains("rlnEvenZernike"))
    #expect(n.stderr.contains("CtfRefine"))
}

@Test func testZernikeCalibrationRejectsBadInput() throws {
    let dir = TemporaryDirectory()
    let z = evenZernike(100)
    let cases: [(String, [String], String)] = [
        (opticsStar(["1 g 0.1 2.7 300.0 0.540000 400 2 \(z)"]), ["--cs-true", "0"], "Cs_true"),
        (opticsStar(["1 g 0.1 0.0 300.0 0.540000 400 2 \(z)"]), ["--cs-true", "2.7"], "Cs of 0"),
        (opticsStar(["1 g 0.1 2.7 300.0 -0.54 400 2 \(z)"]), ["--cs-true", "2.7"], "not positive"),
        (opticsStar(["1 g 0.1 2.7 300.0 0.54 400 2 \(z)"]).replacingOccurrences(of: "_rlnVoltage", with: "_rlnVoltageX"),
         ["--cs-true", "2.7"], "rlnVoltage"),
        ("data_particles\nloop_\n_rlnImageName\n1@a.mrcs\n", ["--cs-true", "2.7"], "optics"),
    ]
    for (i, (text, args, message)) in cases.enumerated() {
        let star = dir.write("bad\(i).star", text)
        let r = try runAngpix(["calibrate", "zernike", star] + args)
        #expect(r.status == 1, "case \(i): \(r.status) \(r.stderr)")
        #expect(r.stderr.contains(message), "case \(i): \(r.stderr)")
    }
    let missing = try runAngpix(["calibrate", "zernike", dir.file("nope.star"), "--cs-true", "2.7"])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("nope.star"))
}
