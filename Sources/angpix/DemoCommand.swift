// `angpix demo`: RELION's "Pixel size issues" page walked through end to end on data generated on
// the fly (nothing downloaded): the CTF at a wrong pixel size, the true pixel size from Z40,
// pixel sizes through optics groups, a map calibrated against a built-in model, PostProcess at the
// corrected pixel size, and `angpix check` on the resulting mini-project; every result is written
// to --out DIR with an HTML report (DIR/report.html). The sections live in DemoWalkthrough.swift
// and DemoMaps.swift; each calls the library the matching command uses.

import ArgumentParser
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through the pixel-size problems of the RELION documentation on built-in data.",
        discussion: """
        Generates everything it needs (no download) and writes, into --out: one NAME.json and its \
        SVG plots per section, a small RELION project (project/) that `angpix check` is run on, and \
        report.html, readable offline. Takes a few seconds.

        Example:
          angpix demo                 # then open angpix-demo/report.html
          angpix demo --out /tmp/demo --force
        """
    )

    @Option(help: "The folder to write the results, the mini-project and the report into.")
    var out: String = "angpix-demo"

    @Flag(help: "Overwrite the files of an earlier run.")
    var force = false

    func run() throws {
        let started = Date()
        let context = DemoContext(out: out, force: force)
        context.say("angpix demo: the pixel-size problems of RELION's \"Pixel size issues\" page, on built-in data\n")
        try DemoWalkthrough.runSectionsAfterJoin(context)
        try DemoWalkthrough.finish(context, started: started)
    }
}
