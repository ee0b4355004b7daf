// `angpix check`: looks for the pixel-size traps of RELION's "Pixel size issues" page in a
// project's files and prints each finding; exit status 1 when something serious is found.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixProjectCheck
import AngpixReport

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Find the pixel-size traps in a RELION project.",
        discussion: """
        Checks what it is given: a particle STAR file (optics groups sharing a name but not their \
        optics, particles pointing to a missing group, RELION 3.0 columns left in a 3.1 file, an MTF \
        without rlnMicrographOriginalPixelSize, a large Z40 or magnification from CtfRefine and the \
        pixel size it implies), the reference and mask of a refinement (a header pixel size that is \
        none of the optics groups' — the 0.98 → 0.96 trap — and a mask that does not match the \
        reference), the particle stacks (--stacks: header pixel size and box against the optics \
        table) and a postprocess.star (pixel size against the half maps'). Paths inside STAR files \
        are relative to the project folder (--project, default the current folder).
        Exit status: 0 when nothing serious was found, 1 when an error-level finding was (or an \
        input could not be read).

        Example:
          angpix check --star Refine3D/job010/run_data.star --stacks \\
              --reference ref.mrc --mask mask.mrc
        """
    )

    @Option(help: "A particle STAR file (run_data.star, particles.star).")
    var star: String?

    @Option(help: "The reference map of a refinement (MRC).")
    var reference: String?

    @Option(help: "The mask of a refinement or PostProcess (MRC).")
    var mask: String?

    @Option(help: "A postprocess.star (its half maps are opened).")
    var postprocess: String?

    @Flag(help: "Open the particle stacks the STAR file names and compare their headers with the optics table.")
    var stacks = false

    @Option(help: "The RELION project folder: where the paths inside STAR files start.")
    var project: String = "."

    @Flag(help: "Print the findings as JSON.")
    var json = false

    @Option(help: "Also write an HTML report of the findings to this file.")
    var report: String?

    @Flag(help: "Overwrite an existing --report file.")
    var force = false

    func run() throws {
        let inputs = ProjectCheckInputs(star: star, reference: reference, mask: mask, postprocess: postprocess,
                                        openStacks: stacks, projectDirectory: project)
        let result = try ProjectChecker.check(inputs)
        if let report {
            let inputsUsed = [star, reference, mask, postprocess].compactMap { $0 }
            try checkReportPage(result).write(to: report, policy: OutputPolicy(overwrite: force, inputs: inputsUsed))
        }
        if json {
            try printJSON(result)
        } else {
            print(formatCheckReport(result), terminator: "")
        }
        if result.serious { throw ExitCode(1) }
    }
}

/// The findings as text for a terminal: one block per finding, wrapped to 100 columns.
func formatCheckReport(_ report: ProjectCheckReport) -> String {
    var out = ""
    for line in report.checked { out += wrap("checked \(line)", indent: "    ") }
    if !report.checked.isEmpty { out += "\n" }
    for f in report.findings {
        out += wrap("\(f.severity.rawValue.uppercased()) [\(f.code.rawValue)] \(f.problem)", indent: "  ")
        out += wrap(f.files.joined(separator: ", "), prefix: "  files: ", indent: "         ")
        out += wrap(f.why, prefix: "  why:   ", indent: "         ")
        out += wrap(f.action, prefix: "  do:    ", indent: "         ")
        out += "\n"
    }
    let e = report.count(.error), w = report.count(.warning), i = report.count(.info)
    if report.findings.isEmpty {
        out += "No pixel-size problems found.\n"
    } else {
        out += "\(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s"), \(i) note\(i == 1 ? "" : "s")"
        out += report.serious ? ": something serious was found (exit status 1).\n" : ": nothing serious.\n"
    }
    return out
}

/// Wraps `text` at word boundaries to `width` columns; continuation lines start with `indent`.
func wrap(_ text: String, prefix: String = "", width: Int = 100, indent: String) -> String {
    var lines: [String] = []
    var current = prefix
    for word in text.split(separator: " ") {
        if current.count > prefix.count && current.count + 1 + word.count > width {
            lines.append(current)
            current = indent + word
        } else {
            current += (current.count > prefix.count ? " " : "") + word
        }
    }
    lines.append(current)
    return lines.joined(separator: "\n") + "\n"
}

/// The HTML page of a check: what was looked at, then one coloured box per finding.
func checkReportPage(_ report: ProjectCheckReport) throws -> HTMLPage {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var value = try parseHTMLJSON(try encoder.encode(report))
    if case .object(var members) = value {
        members.removeAll { $0.key == "serious" }
        members.insert(HTMLJSONMember("title", .string("Project check")), at: 0)
        let e = report.count(.error), w = report.count(.warning)
        members.insert(HTMLJSONMember("summary", .string(report.findings.isEmpty ? "No pixel-size problems found."
            : "\(e) error\(e == 1 ? "" : "s") and \(w) warning\(w == 1 ? "" : "s"): \(report.serious ? "something serious was found." : "nothing serious.")")), at: 1)
        value = .object(members)
    }
    return HTMLPage(title: "angpix check", subtitle: report.checked.first,
                    sections: [HTMLDirectoryReport.section(from: value, name: "check")],
                    footer: "Made by angpix check.")
}
