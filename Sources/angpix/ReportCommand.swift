// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix report DIR`: one self-contained HTML page from a folder of results (DIR/*.json
// summaries and DIR/*.svg plots; the convention is described in Report/HTMLDirectoryReport.swift
// and in the README's "Reports" section).

import ArgumentParser
import Foundation
import AngpixCore
import AngpixReport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a folder of angpix results.",
        discussion: """
        Reads DIR/*.json (one section each, in file-name order) and DIR/*.svg (plots, shown with the \
        JSON of the same name: NAME.svg or NAME-*.svg go with NAME.json) and writes one HTML page with \
        inline CSS and SVG, readable offline.

        Example:
          angpix ctf simulate --defocus 5000 --true-angpix 0.51 --nominal-angpix 0.54 --fit defocus --json --plot out/ctf.svg > out/ctf.json
          angpix report out            # writes out/report.html
        """
    )

    @Argument(help: "The folder of results (*.json summaries and *.svg plots).")
    var directory: String

    @Option(name: [.short, .customLong("output")], help: "The HTML file to write (default: DIR/report.html).")
    var output: String?

    @Option(help: "The page title (default: \"angpix report: <folder name>\").")
    var title: String?

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func run() throws {
        let out = output ?? HTMLDirectoryReport.defaultOutput(for: directory)
        let page = try HTMLDirectoryReport.page(directory: directory, title: title, writtenTo: out)
        try page.write(to: out, policy: OutputPolicy(overwrite: force))
        print("wrote \(out) (\(page.sections.count) section\(page.sections.count == 1 ? "" : "s"))")
    }
}
