// `angpix demo`: the main job on built-in data, following the RELION documentation's "Pixel size
// issues" page. It is a sequence of sections, each a small function that writes its inputs into
// the demo folder, runs the library and prints what it found; later issues append sections.
//
// Section 1 (issue 2): the page's two example datasets, Dataset1 at 1.0 Å/px with box 140 and
// Dataset2 at 1.1 Å/px with box 128, joined like JoinStar: dataset2's optics group becomes 2.

import ArgumentParser
import Foundation
import AngpixCore
import STARFile

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through the pixel-size problems of the RELION documentation on built-in data.",
        discussion: """
        Writes its inputs and results into the output folder (angpix-demo/ by default) and prints
        what each step shows.

        Example:
          angpix demo
          angpix demo --out /tmp/demo --force
        """
    )

    @Option(help: "Folder for the demo's files.") var out: String = "angpix-demo"
    @Flag(help: "Reuse (overwrite) an existing demo folder.") var force = false

    /// The demo's sections, run in order.
    static var sections: [(title: String, run: (DemoContext) throws -> Void)] { [
        ("Joining datasets with different pixel sizes (JoinStar)", demoJoinDatasets),
    ] }

    func run() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CoreError.cannotWrite(path: out, reason: "exists and is not a folder") }
            guard force else { throw CoreError.outputExists(path: out) }
        } else {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        }
        let context = DemoContext(out: out, force: true)
        for (i, section) in DemoCommand.sections.enumerated() {
            print("\n== \(i + 1). \(section.title)\n")
            try section.run(context)
        }
        print("\nDemo files are in \(out)/")
    }
}

// MARK: section 1: join (issue 2)

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
    c.overview.append(["Joining datasets (JoinStar)", optics.groups.map { "group \($0.number) \($0.name): \(String(format: "%.2f", $0.imagePixelSize)) Å/px, box \($0.imageSize)" }.joined(separator: "; ")])
    // The trap RELION does not catch: the same group name with different optics.
    let clash = try c.path("Dataset2_samename.star")
    try c.writeText(demoDataset(name: "dataset1", pixelSize: 1.1, box: 128, particles: 4), "Dataset2_samename.star")
    do {
        _ = try STARJoin.join([(try STARDocument(path: d1), d1), (try STARDocument(path: clash), clash)])
        print("unexpected: the clashing join was accepted")
    } catch {
        print("Joining \(d1) with \(clash) (also named 'dataset1', but 1.1 Å/px) is refused:\n  \(error)")
    }
}
