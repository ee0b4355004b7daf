// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix check`: exit status 0 when nothing serious is found and 1 when something is, the text
// and JSON output, the HTML report, and the errors for unreadable inputs.

import Foundation
import Testing
import AngpixTestSupport
import AngpixCore
import AngpixMRC

private func writeMap(_ dir: TemporaryDirectory, _ name: String, n: Int, pixelSize: Double) throws -> String {
    let path = dir.file(name)
    try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize, data: [Float](repeating: 1, count: n * n * n)),
                      to: path, policy: OutputPolicy())
    return path
}

private func writeParticles(_ dir: TemporaryDirectory, pixelSize: Double = 1.0) -> String {
    dir.write("run_data.star", relionOpticsBlock([TestOpticsGroup(name: "opticsGroup1", pixelSize: "\(pixelSize)", box: 16)]) + """
    # version 30001

    data_particles

    loop_
    _rlnImageName #1
    _rlnDefocusU #2
    _rlnOpticsGroup #3
    000001@Extract/job007/a.mrcs 10000 1
    000002@Extract/job007/a.mrcs 10000 1

    """)
}

@Test func testCheckExitsZeroWhenNothingSeriousIsFound() throws {
    let dir = TemporaryDirectory("check-cli")
    let star = writeParticles(dir)
    let ref = try writeMap(dir, "ref.mrc", n: 16, pixelSize: 1.0)
    let r = try runAngpix(["check", "--star", star, "--reference", ref])
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.contains("No pixel-size problems found."))
    #expect(r.stdout.contains("run_data.star: 2 particles, 1"))
}

@Test func testCheckExitsOneOnThe098To096TrapAndExplainsIt() throws {
    let dir = TemporaryDirectory("check-cli")
    let star = writeParticles(dir)
    let ref = try writeMap(dir, "postprocess.mrc", n: 16, pixelSize: 0.98)
    let r = try runAngpix(["check", "--star", star, "--reference", ref])
    #expect(r.status == 1)
    #expect(r.stdout.contains("ERROR [reference-pixel-size]"))
    #expect(r.stdout.contains("0.960 Å/px"))
    #expect(r.stdout.contains("  why:   relion_refine rescales every particle"))
    #expect(r.stdout.contains("1 error, 0 warnings, 0 notes: something serious was found (exit status 1)."))
    // Lines are wrapped for a terminal.
    #expect(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 140 })

    let j = try runAngpix(["check", "--star", star, "--reference", ref, "--json"])
    #expect(j.status == 1)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
    #expect(object["serious"] as? Bool == true)
    let findings = try #require(object["findings"] as? [[String: Any]])
    #expect(findings.first?["code"] as? String == "reference-pixel-size")
    #expect(findings.first?["severity"] as? String == "error")
    let values = try #require(findings.first?["values"] as? [String: Double])
    #expect(abs(values["stretchedTruePixelSize"]! - 0.9604) < 1e-6)
}

@Test func testCheckWritesAnHTMLReport() throws {
    let dir = TemporaryDirectory("check-cli")
    let star = writeParticles(dir)
    let ref = try writeMap(dir, "ref.mrc", n: 16, pixelSize: 0.98)
    let mask = try writeMap(dir, "mask.mrc", n: 12, pixelSize: 0.98)
    let html = dir.file("check.html")
    let r = try runAngpix(["check", "--star", star, "--reference", ref, "--mask", mask, "--report", html])
    #expect(r.status == 1)
    let page = try String(contentsOfFile: html, encoding: .utf8)
    #expect(page.contains("<h2>Project check <span class=\"badge error\">2 errors</span></h2>"))
    #expect(page.contains("class=\"callout error\""))
    #expect(page.contains("What to do"))
    // The report is not overwritten without --force.
    let again = try runAngpix(["check", "--star", star, "--report", html])
    #expect(again.status == 1)
    #expect(again.stderr.contains("already exists"))
}

@Test func testCheckErrorsForMissingOrUnusableInputs() throws {
    let dir = TemporaryDirectory("check-cli")
    let none = try runAngpix(["check"])
    #expect(none.status == 1)
    #expect(none.stderr.contains("nothing to check"))
    let missing = try runAngpix(["check", "--star", dir.file("nope.star")])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("nope.star"))
    let stacks = try runAngpix(["check", "--reference", dir.file("x.mrc"), "--stacks"])
    #expect(stacks.status == 1)
    #expect(stacks.stderr.contains("--stacks needs a particle STAR file"))
    let help = try runAngpix(["check", "--help"])
    #expect(help.stdout.contains("Example:"))
}
