// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix check`: looks for the pixel-size traps of RELION's "Pixel size issues" page in a
// project's files and prints each finding; exit status 1 when something serious is found.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixProjectCheck
import AngpixOptics

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

        RELION 4 and 5: each finding says which RELION releases it applies to. --relion 3.1|4|5 \
        reports only those of one release; by default the particle file's `# version` line \
        decides (50001: RELION 5; 30001: 3.1 and 4), else all three are reported. For RELION 5 \
        the reference is checked as RELION 5 resizes it (reference-resize: the pixel size reached, \
        and by how much it misses the first optics group's, also at --resolution or the \
        postprocess.star's final resolution). Particles from several MotionCorr jobs, or optics \
        groups of different pixel size or box, get the Polishing plan (polishing-plan): the \
        corrected_micrographs.star of each job (found through default_pipeline.star or the job \
        folder), the `angpix star subset` command for each set, a check that every particle is in \
        exactly one, and the final `angpix star join`; --write-plan DIR writes the subsets and a \
        script. The MotionCorr jobs' corrected_micrographs.star and job.star are read for the \
        detector's pixel sizes: the gain reference (gain-reference-pixel-size), binning \
        (implausible-binning), MTF files (mtf-differs-on-detector).

        Exit status: 0 when nothing serious was found, 1 when an error-level finding was (or an \
        input could not be read).

        Example:
          angpix check --star Refine3D/job010/run_data.star --stacks \\
              --reference ref.mrc --mask mask.mrc
          angpix check --star Refine3D/job020/run_data.star --relion 5 --reference ref.mrc --resolution 3.1
          angpix check --star Refine3D/job020/run_data.star --write-plan PolishPlan
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

    @Option(help: "The RELION release to check for: 3.1, 4 or 5 (default: from the STAR file's `# version` line, else all).")
    var relion: String?

    @Option(help: "The final resolution (Å), to express pixel-size differences there (default: the postprocess.star's).")
    var resolution: Double?

    @Option(name: .customLong("write-plan"), help: "Write the Polishing plan's particle subsets and a script to this folder.")
    var writePlan: String?

    @Flag(help: "Print the findings as JSON.")
    var json = false

    @Option(help: "Also write an HTML report of the findings to this file.")
    var report: String?

    @Flag(help: "Overwrite an existing --report file or plan files.")
    var force = false

    func validate() throws {
        if let relion, RelionVersion(argument: relion) == nil {
            throw ValidationError("--relion \(relion): expected 3.1, 4 or 5")
        }
        if let resolution, !(resolution > 0 && resolution.isFinite) {
            throw ValidationError("--resolution \(resolution): must be a positive resolution in Å")
        }
        if writePlan != nil && star == nil {
            throw ValidationError("--write-plan needs the particle file (--star)")
        }
    }

    func run() throws {
        var inputs = ProjectCheckInputs(star: star, reference: reference, mask: mask, postprocess: postprocess,
                                        openStacks: stacks, projectDirectory: project,
                                        relion: relion.flatMap(RelionVersion.init(argument:)), finalResolution: resolution)
        if let writePlan { inputs.planDirectory = writePlan }
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
        // After the findings, so that a plan refused for particles in no set or in two is explained.
        if let writePlan, let star {
            guard let plan = result.polishingPlan else {
                throw CoreError.invalidArgument("\(star): its particles come from one MotionCorr job (or none found); there is no Polishing plan to write")
            }
            let written = try plan.write(to: writePlan, policy: OutputPolicy(overwrite: force, inputs: [star]))
            for w in written { printError("wrote \(w)") }
        }
        if result.serious { throw ExitCode(1) }
    }
}
