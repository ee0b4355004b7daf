// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix ctf simulate`: the reference text's numbers, JSON, the SVG plot,
// and bad input.

import Foundation
import Testing
import AngpixTestSupport

@Test func testCtfSimulateReproducesReferenceTextNumbers() throws {
    let r = try runAngpix(["ctf", "simulate", "--defocus", "5000", "--cs", "2.7", "--voltage", "300",
                           "--true-angpix", "0.51", "--nominal-angpix", "0.54"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("defocus 5525.5 Å"))
    #expect(r.stdout.contains("defocus 5605.5 Å, Cs 3.394 mm"))
    #expect(r.stdout.contains("up to 3.29 Å"))
    #expect(r.stdout.contains("back in phase at 1.82 Å (0.55 1/Å)"))
}

@Test func testCtfSimulateJSONHasFitsAndPhaseAnalysis() throws {
    let r = try runAngpix(["ctf", "simulate", "--fit", "defocus", "--fit-from", "30", "--fit-to", "3.5", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let fits = try #require(obj["fits"] as? [[String: Any]])
    #expect(fits.count == 1)
    #expect(fits[0]["mode"] as? String == "defocus")
    let df = try #require(fits[0]["defocus"] as? Double)
    #expect(abs(df - 5526) < 1)
    let phase = try #require(fits[0]["phase"] as? [String: Any])
    let holds = try #require(phase["holdsTo"] as? [String: Any])
    #expect(abs((holds["resolution"] as? Double ?? 0) - 3.3) < 0.05)
    let back = try #require(phase["backInPhase"] as? [[String: Any]])
    #expect(abs((back.first?["resolution"] as? Double ?? 0) - 1.8) < 0.05)
    let exact = try #require(obj["exact"] as? [String: Double])
    #expect(abs(exact["defocus"]! - 5605.5) < 0.1)
    #expect(abs(exact["cs"]! - 3.394) < 0.001)
}

@Test func testCtfSimulateWritesPlotWithFourCurvesAndRefusesToOverwrite() throws {
    let dir = TemporaryDirectory()
    let svg = dir.file("ctf.svg")
    let r = try runAngpix(["ctf", "simulate", "--plot", svg])
    #expect(r.status == 0, "\(r.stderr)")
    let text = try String(contentsOfFile: svg, encoding: .utf8)
    #expect(text.hasPrefix("<?xml"))
    #expect(text.contains("</svg>"))
    #expect(text.components(separatedBy: "<path ").count - 1 == 4)
    #expect(text.contains("fit defocus: 5526 Å"))
    #expect(text.contains("Resolution (Å"))
    let again = try runAngpix(["ctf", "simulate", "--plot", svg])
    #expect(again.status == 1)
    #expect(again.stderr.contains("already exists"))
    #expect(try runAngpix(["ctf", "simulate", "--plot", svg, "--force"]).status == 0)
    #expect(dir.listing() == ["ctf.svg"])
}

@Test func testCtfSimulateRejectsBadInput() throws {
    let cases: [[String]] = [
        ["--nominal-angpix", "0"],
        ["--true-angpix=-0.5"],
        ["--fit-from", "3", "--fit-to", "30"],
        ["--amplitude-contrast", "1.5"],
        ["--voltage", "0"],
        ["--plot-to=0"],
        ["--fit-to", "0.9"],
    ]
    for extra in cases {
        let r = try runAngpix(["ctf", "simulate"] + extra)
        #expect(r.status == 1, "\(extra): status \(r.status)")
        #expect(r.stderr.contains("Error"), "\(extra): \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }
}

@Test func testCtfSimulateRejectsUnknownFitMode() throws {
    let r = try runAngpix(["ctf", "simulate", "--fit", "cs"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("defocus+cs"))
}

@Test func testCtfSimulateHelpHasExample() throws {
    let r = try runAngpix(["ctf", "simulate", "--help"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("Example:"))
}
