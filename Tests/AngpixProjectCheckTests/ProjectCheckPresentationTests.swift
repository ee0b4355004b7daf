// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the check's text and HTML page (ProjectCheckReport.text / htmlPage).

import Foundation
import Testing
import AngpixReport
@testable import AngpixProjectCheck

@Test func checkTextWrapsFindingsAndCountsThem() throws {
    let long = Array(repeating: "word", count: 40).joined(separator: " ")
    let f = Finding(.referencePixelSize, .error, files: ["a.mrc", "b.star"], problem: "the problem", why: long, action: "do this")
    let report = ProjectCheckReport(findings: [f], checked: ["b.star: 1 optics group"])
    let text = report.text
    #expect(text.hasPrefix("checked b.star: 1 optics group\n\n"))
    #expect(text.contains("ERROR [reference-pixel-size] the problem\n  files: a.mrc, b.star\n  why:   word word"))
    #expect(text.split(separator: "\n").allSatisfy { $0.count <= 100 })
    #expect(text.hasSuffix("1 error, 0 warnings, 0 notes: something serious was found (exit status 1).\n"))
    #expect(ProjectCheckReport(findings: [], checked: []).text == "No pixel-size problems found.\n")
    let html = try report.htmlPage().render()
    #expect(html.contains("Project check") && html.contains("1 error and 0 warnings: something serious was found."))
}
