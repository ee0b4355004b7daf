// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix check`: looks for the pixel-size traps of RELION's "Pixel size issues" page in a
// project's files and prints each finding; exit status 1 when something serious is found.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixProjectCheck

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
        are relative to the project folder (--project, default the current folder). RELION 4/5 \
        tomography particle files are read like particle files; tilt-series, pipeline and job \
        files are refused as not particle files.

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
            try result.htmlPage().write(to: report, policy: OutputPolicy(overwrite: force, inputs: inputsUsed))
        }
        if json {
            try printJSON(result)
        } else {
            print(result.text, terminator: "")
        }
        if result.serious { throw ExitCode(1) }
    }
}
