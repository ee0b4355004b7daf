// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The demo's folder and its report: `angpix demo --out DIR` writes every section's results,
// the mini-project that `angpix check` is run on, and report.html, which a real headless browser
// draws with all its plots.

import Foundation
import Testing
import AngpixTestSupport

/// One run of the demo shared by the tests below (a run takes several seconds in a debug build).
enum DemoRun {
    nonisolated(unsafe) static let shared: (dir: TemporaryDirectory, out: String, result: ProcessResult?) = {
        let dir = TemporaryDirectory("demo")
        let out = dir.file("angpix-demo")
        return (dir, out, try? runAngpix(["demo", "--out", out]))
    }()
}

@Test func testDemoWritesEverySectionAndItsReport() throws {
    let out = DemoRun.shared.out
    let r = try #require(DemoRun.shared.result)
    #expect(r.status == 0, "\(r.stderr)")
    let files = Set((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [])
    for name in ["00-overview.json", "02-ctf.json", "02-ctf.svg", "03-z40.json", "04-optics-trace.json",
                 "05-calibration.json", "05-calibration.svg", "06-postprocess.json", "06-postprocess-fsc.svg",
                 "07-check.json", "08-check-trap.json", "09-refine.json", "09-refine-magnification.svg",
                 "09-refine-displacement-group1.svg", "09-refine-displacement-group2.svg", "09-refine-aberrations.svg",
                 "report.html"] {
        #expect(files.contains(name), "\(name) missing from \(files.sorted())")
    }
    // The numbers of the reference text, as printed.
    #expect(r.stdout.contains("5605.5 Å and 3.394 mm"))
    #expect(r.stdout.contains("→ 0.5100 Å/px"))
    #expect(r.stdout.contains("map 0.990 Å/px, group 2 0.900 Å/px"))
    // The calibration finds the true 0.98 Å/px of a map labelled 1.00.
    let calibration = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/05-calibration.json"))) as? [String: Any])
    let values = try #require(calibration["values"] as? [String: Double])
    #expect(abs(values["pixelSize"]! - 0.98) < 0.98 * 0.002, "calibrated \(values["pixelSize"]!)")
    // The refine section: a group truly at 1.02 Å/px under a nominal 1.00, measured from its
    // particles relative to the reference (refine magnification, beside a group at its nominal
    // pixel size) and absolutely (Z40 with Cs 2.7 mm, its map refined at 1.00), then its defocus refitted.
    let refine = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/09-refine.json"))) as? [String: Any])
    let found = try #require(refine["values"] as? [String: Double])
    func value(_ key: String) -> Double { found[key] ?? .nan }
    #expect(abs(value("group1RelativePixelSizeTruth") - 1) < 1e-9 && abs(value("group2RelativePixelSizeTruth") - 1.02) < 1e-9)
    #expect(abs(value("z40PixelSizeTruth") - 1.02) < 1e-9)
    for g in 1...2 {
        let relative = value("group\(g)RelativePixelSize") / value("group\(g)RelativePixelSizeTruth") - 1
        printMeasured("demo refine: group \(g) relative error of refine magnification's pixel size", relative)
        #expect(abs(relative) < 0.0008, "group \(g): refine magnification \(value("group\(g)RelativePixelSize")) Å/px")
    }
    let absolute = value("z40PixelSize") / value("z40PixelSizeTruth") - 1
    printMeasured("demo refine: relative error of Z40's pixel size", absolute)
    printMeasured("demo refine: Z40 (truth \(value("z40Truth")))", value("z40"))
    #expect(abs(absolute) < 0.0012, "Z40 gives \(value("z40PixelSize")) Å/px")
    // The written defocus (part of the error absorbed, plus a 100 Å error) comes back to the truth.
    // Measured: relative errors 0.036 % and −0.014 %, Z40's 0.062 %, defocus RMS error 80 → 22 Å.
    printMeasured("demo refine: defocus RMS error as written (Å)", value("defocusRMSErrorBefore"))
    printMeasured("demo refine: defocus RMS error after refine defocus (Å)", value("defocusRMSErrorAfter"))
    printMeasured("demo refine: defocus mean error as written (Å)", value("defocusMeanErrorBefore"))
    printMeasured("demo refine: defocus mean error after refine defocus (Å)", value("defocusMeanErrorAfter"))
    #expect(value("defocusRMSErrorAfter") < value("defocusRMSErrorBefore") / 3)
    #expect(r.stdout.contains("angpix refine magnification particles.star --postprocess PostProcess/postprocess.star -o Magnification"))
    // The check: nothing serious for the project as it should be, the 0.98 → 0.96 trap with the PostProcess map as reference.
    let good = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/07-check.json"))) as? [String: Any])
    let goodFindings = try #require(good["findings"] as? [[String: Any]])
    #expect(!goodFindings.contains { $0["severity"] as? String == "error" })
    let trap = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/08-check-trap.json"))) as? [String: Any])
    let trapFindings = try #require(trap["findings"] as? [[String: Any]])
    #expect(trapFindings.contains { $0["code"] as? String == "reference-pixel-size" && $0["severity"] as? String == "error" })
    // The mini-project is there for the user to run angpix check on.
    #expect(FileManager.default.fileExists(atPath: "\(out)/project/Refine3D/job010/run_data.star"))
    #expect(FileManager.default.fileExists(atPath: "\(out)/project/PostProcess/job011/postprocess.star"))
    // A second run refuses to overwrite without --force (CI runs the demo with --force).
    let again = try runAngpix(["demo", "--out", out])
    #expect(again.status == 1)
    #expect(again.stderr.contains("already exists"))
}

@Test(.enabled(if: HeadlessBrowser.available, Comment(rawValue: HeadlessBrowser.missing)))
func testDemoReportRendersWithItsPlotsInHeadlessChromium() throws {
    let out = DemoRun.shared.out
    let r = try #require(DemoRun.shared.result)
    #expect(r.status == 0, "\(r.stderr)")
    let page = "\(out)/report.html"
    let scratch = TemporaryDirectory("demo-browser-out")
    let png = scratch.file("demo.png")
    let shot = try HeadlessBrowser.run(["--screenshot=\(png)", "--window-size=1200,1600"], page: page, profile: scratch.file("profile"))
    #expect(shot.status == 0, "chromium: \(shot.stderr.suffix(500))")
    if let stats = try pngStatistics(png, scratch: scratch) {
        #expect(stats.nonWhite > 0.05, "only \(stats.nonWhite) of the screenshot is not white")
        #expect(stats.colours > 100, "only \(stats.colours) colours")
    }
    let dom = try HeadlessBrowser.run(["--dump-dom"], page: page, profile: scratch.file("profile"))
    #expect(dom.status == 0)
    for title in ["angpix demo", "CTF at a wrong pixel size", "True pixel size from Z40", "A map calibrated against an atomic model",
                  "PostProcess at the corrected pixel size", "angpix check on the mini-project",
                  "Measuring the pixel size from the particles (refine)",
                  "CTF at 0.54 Å/px nominal, truly 0.51 Å/px", "Map against the model: correlation vs pixel size", "Guinier plot"] {
        #expect(dom.stdout.contains(title), "\(title) is not in the rendered DOM")
    }
    // Every plot is drawn inline: one <svg> per SVG file.
    let svgs = dom.stdout.components(separatedBy: "<svg").count - 1
    #expect(svgs >= 4, "\(svgs) inline SVG plots")
}
