// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix demo`: the main job on built-in data, following the RELION documentation's "Pixel size
// issues" page end to end. It is a sequence of sections, each a small function that writes its
// inputs into the demo folder, runs the library the matching command uses, prints what it found
// and writes NAME.json (+ SVG plots) for the HTML report (report.html, `angpix report`).
//
// Section 1: the page's two example datasets, Dataset1 at 1.0 Å/px with box 140 and
// Dataset2 at 1.1 Å/px with box 128, joined like JoinStar: dataset2's optics group becomes 2.
// Sections 2–6 (DemoWalkthrough.swift, DemoMaps.swift): the CTF at a wrong pixel size,
// the true pixel size from Z40, pixel sizes through optics groups, a map simulated from a built-in
// model at 0.98 Å/px but labelled 1.00, calibrated against the model, its header corrected and
// PostProcess at 0.98; then `angpix check` on the resulting mini-project (project/).
// Section 7 (DemoRefine.swift): particles simulated in two optics groups, one truly 2 % off its
// nominal pixel size, measured by `refine magnification` (relative) and by `refine aberrations`'s
// Z40 with a trusted Cs (absolute), then `refine defocus` (refine/).

import ArgumentParser
import Foundation
import AngpixCore
import AngpixReport
import AngpixSTAR
import AngpixOptics

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through the pixel-size problems of the RELION documentation on built-in data.",
        discussion: """
        Generates everything it needs (nothing is downloaded), prints what each step shows, and \
        writes into the output folder (angpix-demo/ by default): each section's inputs and results \
        (NAME.json and SVG plots), a small RELION project (project/) that `angpix check` is run on, \
        and report.html, readable offline. Takes a few seconds.

        Example:
          angpix demo                 # then open angpix-demo/report.html
          angpix demo --out /tmp/demo --force
        """
    )

    @Option(help: "Folder for the demo's files.") var out: String = "angpix-demo"
    @Flag(help: "Reuse (overwrite) an existing demo folder.") var force = false

    /// Results one section hands to a later one.
    final class Shared {
        var ctf: PixelSizeErrorResult?
        var project: DemoMaps.Project?
    }

    /// The demo's sections, run in order.
    static func sections(_ shared: Shared) -> [(title: String, run: (DemoContext) throws -> Void)] { [
        ("Joining datasets with different pixel sizes (JoinStar)", demoJoinDatasets),
        ("The CTF at a wrong pixel size: defocus, and defocus with Cs", { shared.ctf = try DemoWalkthrough.ctf($0) }),
        ("The true pixel size from Z40", { c in if let r = shared.ctf { try DemoWalkthrough.z40(c, ctf: r) } }),
        ("Pixel sizes through optics groups", DemoWalkthrough.opticsTrace),
        ("A map labelled with a wrong pixel size, calibrated against its model; PostProcess at the corrected one",
         { shared.project = try DemoMaps.run($0) }),
        ("angpix check on the mini-project", { c in
            guard let p = shared.project else { return }
            try DemoWalkthrough.check(c, star: p.star, refineMap: p.refineMap, mask: p.mask,
                                      postprocessStar: p.postprocessStar, postprocessMap: p.postprocessMap)
        }),
        ("Measuring the pixel size from the particles (refine)", DemoRefine.run),
    ] }

    func run() throws {
        let started = Date()
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CoreError.cannotWrite(path: out, reason: "exists and is not a folder") }
            guard force else { throw CoreError.outputExists(path: out) }
        } else {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        }
        let context = DemoContext(out: out, force: true)
        for (i, section) in DemoCommand.sections(Shared()).enumerated() {
            print("\n== \(i + 1). \(section.title)\n")
            try section.run(context)
        }
        try DemoWalkthrough.finish(context, started: started)
    }
}

// MARK: section 1: join

/// A RELION 3.1 particle file with one optics group, as in the reference text's examples.
func demoDataset(name: String, pixelSize: Double, box: Int, particles: Int) -> String {
    var t = "\n# version 30001\n\ndata_optics\n\nloop_ \n"
    let optics = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
                  "rlnImagePixelSize", "rlnMicrographOriginalPixelSize", "rlnImageSize", "rlnImageDimensionality"]
    for (i, l) in optics.enumerated() { t += "_\(l) #\(i + 1) \n" }
    t += String(format: "%12d  %@ %12.6f %12.6f %12.6f %12.6f %12.6f %12d %12d\n \n", 1, name, 0.1, 2.7, 300.0, pixelSize, pixelSize, box, 2)
    t += "\n# version 30001\n\ndata_particles\n\nloop_ \n"
    let labels = ["rlnCoordinateX", "rlnCoordinateY", "rlnImageName", "rlnMicrographName", "rlnDefocusU", "rlnDefocusV",
                  "rlnDefocusAngle", "rlnOpticsGroup"]
    for (i, l) in labels.enumerated() { t += "_\(l) #\(i + 1) \n" }
    for k in 1...particles {
        let mic = (k - 1) / 2 + 1
        t += String(format: "%12.6f %12.6f %06d@Extract/job007/Movies/%@_mic%03d.mrcs MotionCorr/job002/Movies/%@_mic%03d.mrc %12.6f %12.6f %12.6f %12d\n",
                    Double(100 + 37 * k), Double(200 + 53 * k), (k - 1) % 2 + 1, name, mic, name, mic,
                    15000.0 + 250.0 * Double(k), 14800.0 + 250.0 * Double(k), 12.5, 1)
    }
    return t + " \n"
}

func demoJoinDatasets(_ c: DemoContext) throws {
    let d1 = try c.path("Dataset1.star"), d2 = try c.path("Dataset2.star")
    try c.writeText(demoDataset(name: "dataset1", pixelSize: 1.0, box: 140, particles: 4), "Dataset1.star")
    try c.writeText(demoDataset(name: "dataset2", pixelSize: 1.1, box: 128, particles: 4), "Dataset2.star")
    print("wrote \(d1) (1.0 Å/px, box 140) and \(d2) (1.1 Å/px, box 128), 4 particles each")
    let result = try STARJoin.join([(try STARDocument(path: d1), d1), (try STARDocument(path: d2), d2)])
    let joined = try c.path("joined.star")
    try result.document.write(to: joined, policy: c.policy)
    for g in result.groups where g.oldNumber != g.newNumber {
        print("\(g.file): optics group \(g.oldNumber) '\(g.oldName)' renumbered to \(g.newNumber)")
    }
    let doc = try STARDocument(path: joined)
    let optics = try OpticsTable(block: doc.block("optics")!, file: joined)
    let counts = try RelionParticleFile(document: doc, file: joined).opticsGroupIndices()
        .reduce(into: [Int](repeating: 0, count: optics.groups.count)) { $0[$1] += 1 }
    print("\nJoined optics table (\(joined)):")
    print("  group  name        pixel(Å)   box  voltage(kV)  Cs(mm)  Q0    particles")
    for (i, g) in optics.groups.enumerated() {
        print(String(format: "  %5d  %@ %8.3f %5d %12.1f %7.2f %5.2f  %d", g.number,
                     g.name.padding(toLength: 10, withPad: " ", startingAt: 0), g.imagePixelSize, g.imageSize,
                     g.voltage, g.sphericalAberration, g.amplitudeContrast, counts[i]))
    }
    print("""

    dataset2's rlnOpticsGroup was renumbered to 2, so each particle keeps its own pixel size and box.
    Refine with a reference at the first group's pixel size and box (1.0 Å/px, 140), or use --trust_ref_size.
    """)
    c.overview.append(["Joining datasets (JoinStar)", optics.groups.map { "group \($0.number) \($0.name): \(formatFixed($0.imagePixelSize, decimals: 2)) Å/px, box \($0.imageSize)" }.joined(separator: "; ")])
    // The trap RELION does not catch: the same group name with different optics.
    let clash = try c.path("Dataset2_samename.star")
    try c.writeText(demoDataset(name: "dataset1", pixelSize: 1.1, box: 128, particles: 4), "Dataset2_samename.star")
    var refusal = ""
    do {
        _ = try STARJoin.join([(try STARDocument(path: d1), d1), (try STARDocument(path: clash), clash)])
        print("unexpected: the clashing join was accepted")
    } catch {
        refusal = "\(error)"
        print("Joining \(d1) with \(clash) (also named 'dataset1', but 1.1 Å/px) is refused:\n  \(error)")
    }
    // The section of the report.
    let rows = optics.groups.enumerated().map { i, g in
        [String(g.number), g.name, formatFixed(g.imagePixelSize, decimals: 3), String(g.imageSize), String(counts[i])]
    }
    let mapping = result.groups.map { [($0.file as NSString).lastPathComponent, String($0.oldNumber), $0.oldName, String($0.newNumber), $0.newName] }
    try c.writeJSON(DemoSection(
        title: "Two datasets at different pixel sizes joined",
        summary: ["Dataset1 (1.0 Å/px, box 140) and Dataset2 (1.1 Å/px, box 128), each with its own rlnOpticsGroupName, joined as RELION's JoinStar does (angpix star join Dataset1.star Dataset2.star -o joined.star): dataset2's optics group is renumbered to 2 and its particles follow, so each keeps its own pixel size and box.",
                  "Refine with a reference and mask at the first group's pixel size and box (1.0 Å/px, 140), or use --trust_ref_size; the output map has the reference's pixel size and box."]
            + (refusal.isEmpty ? [] : ["Named alike but with different optics (Dataset2_samename.star), the groups would be merged silently by RELION, which keeps the first group's 1.0 Å/px for both; angpix refuses: \(refusal)"]),
        tables: [ReportTable(title: "Joined optics table", columns: ["group", "name", "pixel size (Å)", "box", "particles"], rows: rows),
                 ReportTable(title: "Renumbering", columns: ["input", "group", "name", "new group", "new name"], rows: mapping)]),
        "01-join.json")
}
