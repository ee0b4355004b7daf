// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix report DIR`: the page is written, and a real headless browser (Chromium) draws it:
// the screenshot is not blank, the plot's curve is there in colour, and the titles are in the DOM.

import Foundation
import Testing
import AngpixTestSupport

/// Chromium (Debian's `chromium` package; .ci/run installs it), where installed.
enum HeadlessBrowser {
    static let path: String? = {
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }()
    static var available: Bool { path != nil }
    static let missing = "chromium is not installed (apt-get install -y chromium); browser rendering test skipped"

    /// Runs the browser headless on `page` with extra `arguments` (bounded by a 90 s timeout).
    static func run(_ arguments: [String], page: String, profile: String) throws -> ProcessResult {
        try runProcess("/usr/bin/timeout", ["90", path!, "--headless", "--no-sandbox", "--disable-gpu",
                                            "--disable-dev-shm-usage", "--hide-scrollbars",
                                            "--user-data-dir=\(profile)"] + arguments
                                           + [URL(fileURLWithPath: page).absoluteString])
    }
}

/// Decodes an 8-bit RGB/RGBA PNG with python3 (zlib + numpy) and returns: the fraction of pixels
/// that are not near-white, the number of distinct colours, and the number of strongly blue pixels.
/// Returns nil only when python3 or numpy is missing, after printing that the pixel checks are
/// skipped; an output it cannot read is a failure.
func pngStatistics(_ png: String, scratch: TemporaryDirectory) throws -> (nonWhite: Double, colours: Int, blue: Int)? {
    let skipped = "python3 with numpy is not installed: the screenshot's pixel statistics are not checked"
    // The python3 on PATH, as the numpy comparison of AngpixFourierTests finds it (/usr/bin/python3
    // may lack numpy where another python3 has it).
    guard (try? runProcess("/usr/bin/env", ["python3", "--version"]).status) == 0 else { print(skipped); return nil }
    let script = scratch.write("pngstat.py", """
    import sys, zlib, struct
    import numpy as np
    data = open(sys.argv[1], 'rb').read()
    assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'not a PNG'
    pos = 8; idat = b''; w = h = ch = 0
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
        if typ == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10]); assert depth == 8, 'bit depth'
            ch = {2: 3, 6: 4}[ctype]
        elif typ == b'IDAT':
            idat += body
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * ch)
    img = np.zeros((h, w * ch), dtype=np.int32); prev = np.zeros(w * ch, dtype=np.int32)
    for y in range(h):
        f = raw[y, 0]; line = raw[y, 1:].astype(np.int32)
        if f == 0: cur = line
        elif f == 2: cur = (line + prev) & 255
        elif f == 1: cur = line.reshape(w, ch).cumsum(axis=0).reshape(-1) & 255
        else:
            l = line.tolist(); p = prev.tolist()
            for i in range(len(l)):
                a = l[i - ch] if i >= ch else 0; b = p[i]; c = p[i - ch] if i >= ch else 0
                if f == 3: l[i] = (l[i] + ((a + b) >> 1)) & 255
                else:
                    pa = abs(b - c); pb = abs(a - c); pc = abs(a + b - 2 * c)
                    l[i] = (l[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
            cur = np.array(l, dtype=np.int32)
        img[y] = cur; prev = cur
    px = img.reshape(h, w, ch)[:, :, :3]
    nonwhite = float(np.mean(np.any(px < 240, axis=2)))
    colours = len(np.unique(px.reshape(-1, 3) @ np.array([65536, 256, 1])))
    blue = int(np.sum((px[:, :, 2] > 150) & (px[:, :, 0] < 100)))
    print(nonwhite, colours, blue)
    """)
    let r = try runProcess("/usr/bin/env", ["python3", script, png])
    guard r.status == 0 else {
        if r.stderr.contains("No module named 'numpy'") { print(skipped); return nil }
        throw CoreTestFailure(message: "png decoding failed: \(r.stderr)")
    }
    let parts = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard parts.count == 3, let a = Double(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]) else {
        throw CoreTestFailure(message: "png statistics: unexpected output '\(r.stdout)'")
    }
    return (a, b, c)
}

struct CoreTestFailure: Error, CustomStringConvertible { var message: String; var description: String { message } }

/// A folder of results like the demo writes: a summary with a plot, and a check with findings.
func makeResultsFolder(_ dir: TemporaryDirectory) {
    // A CTF-like curve drawn by hand, so this test does not depend on the plotting code.
    let xs = stride(from: 0.0, through: 0.5, by: 0.0025)
    let points = xs.map { k -> String in
        let y = -sin(Double.pi * 0.0197 * 5000 * k * k)
        return String(format: "%.1f,%.1f", 60 + k * 2 * 600, 200 - y * 150)
    }.joined(separator: " ")
    dir.write("01-ctf.svg", """
    <?xml version="1.0" encoding="UTF-8"?>
    <svg xmlns="http://www.w3.org/2000/svg" width="720" height="400" viewBox="0 0 720 400">
    <title>CTF at the nominal pixel size</title>
    <rect x="60" y="40" width="600" height="320" fill="none" stroke="#333"/>
    <polyline points="\(points)" fill="none" stroke="#1f5fd8" stroke-width="2"/>
    <text x="360" y="390" text-anchor="middle" font-size="14">resolution (Å)</text>
    </svg>
    """)
    dir.write("01-ctf.json", """
    {"title": "CTF at a wrong pixel size", "summary": "Fitting the defocus absorbs most of the error.",
     "defocus": 5000, "trueAngpix": 0.51, "nominalAngpix": 0.54, "fittedDefocus": 5526.0}
    """)
    dir.write("02-check.json", """
    {"findings": [{"severity": "error", "problem": "ref.mrc: header 0.980 Å/px matches no optics group (1.000 Å/px)",
                   "files": ["ref.mrc", "run_data.star"], "why": "relion_refine stretches the particles",
                   "action": "use the refinement's own map"}], "serious": true}
    """)
}

@Test func testReportWritesOnePageAndRefusesToOverwrite() throws {
    let dir = TemporaryDirectory("report-cli")
    makeResultsFolder(dir)
    let r = try runAngpix(["report", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let html = try String(contentsOfFile: dir.file("report.html"), encoding: .utf8)
    #expect(html.contains("<h2>CTF at a wrong pixel size</h2>"))
    #expect(html.contains("<figcaption>01-ctf.svg</figcaption>"))
    #expect(!html.contains("<?xml"))
    // A second run does not read its own page as a result, and needs --force to replace it.
    let again = try runAngpix(["report", dir.path])
    #expect(again.status == 1)
    #expect(again.stderr.contains("already exists"))
    let forced = try runAngpix(["report", dir.path, "--force", "--title", "Second"])
    #expect(forced.status == 0)
    let second = try String(contentsOfFile: dir.file("report.html"), encoding: .utf8)
    #expect(second.contains("<title>Second</title>"))
}

@Test func testReportErrorsNameTheFolderOrFile() throws {
    let dir = TemporaryDirectory("report-cli-bad")
    let missing = try runAngpix(["report", dir.file("nope")])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("nope: not a folder"))
    let empty = try runAngpix(["report", dir.path])
    #expect(empty.status == 1)
    #expect(empty.stderr.contains("no *.json summaries or *.svg plots"))
    dir.write("bad.json", "{\"a\": [1, 2")
    let bad = try runAngpix(["report", dir.path])
    #expect(bad.status == 1)
    #expect(bad.stderr.contains("bad.json: not valid JSON"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("report.html")))
}

@Test(.enabled(if: HeadlessBrowser.available, Comment(rawValue: HeadlessBrowser.missing)))
func testReportRendersInHeadlessChromium() throws {
    let dir = TemporaryDirectory("report-browser")
    makeResultsFolder(dir)
    let r = try runAngpix(["report", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let page = dir.file("report.html")
    let scratch = TemporaryDirectory("report-browser-out")
    let png = scratch.file("out.png")
    let shot = try HeadlessBrowser.run(["--screenshot=\(png)", "--window-size=1200,1600"], page: page,
                                       profile: scratch.file("profile"))
    #expect(shot.status == 0, "chromium: \(shot.stderr.suffix(500))")
    let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
    #expect(size > 20_000, "screenshot of \(size) bytes: a blank page compresses to a few kB")
    if let stats = try pngStatistics(png, scratch: scratch) {
        #expect(stats.nonWhite > 0.05, "only \(stats.nonWhite) of the screenshot is not white")
        #expect(stats.colours > 100, "only \(stats.colours) colours: text and plot not drawn")
        #expect(stats.blue > 300, "the plot's blue curve is missing (\(stats.blue) blue pixels)")
    }
    let dom = try HeadlessBrowser.run(["--dump-dom"], page: page, profile: scratch.file("profile"))
    #expect(dom.status == 0)
    for title in ["CTF at a wrong pixel size", "CTF at the nominal pixel size", "Check",
                  "header 0.980 Å/px matches no optics group", "What to do"] {
        #expect(dom.stdout.contains(title), "\(title) is not in the rendered DOM")
    }
    #expect(dom.stdout.contains("<polyline"))
}
