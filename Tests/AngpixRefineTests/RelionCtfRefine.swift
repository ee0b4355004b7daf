// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Running relion_ctf_refine (RELION 3.1.3, found on PATH as `Relion.path` finds it) in a simulated
// project folder and reading what it wrote, for the RELION comparisons of this target
// (RelionMagnificationTests, RelionAberrationDefocusTests). Tests that use it are enabled with
// `.enabled(if: Relion.has("relion_ctf_refine"), Comment(rawValue: Relion.missing("relion_ctf_refine")))`.

import Foundation
import Testing
import AngpixSTAR
import AngpixTestSupport

/// What one relion_ctf_refine run wrote.
struct RelionCtfRefineRun {
    /// OUTPUT/particles_ctf_refine.star.
    var particles: RelionParticleFile
    /// Wall-clock seconds of the run (printed, never asserted).
    var seconds: Double
}

/// Runs `relion_ctf_refine --i particles --f postprocess --o output/ ARGUMENTS` in `folder` and
/// reads `output/particles_ctf_refine.star`; a failed run fails the test with RELION's last words.
func runRelionCtfRefine(in folder: String, particles: String = "particles.star", postprocess: String = "postprocess.star",
                        output: String = "relion", _ arguments: [String]) throws -> RelionCtfRefineRun {
    let tool = try #require(Relion.path("relion_ctf_refine"), "\(Relion.missing("relion_ctf_refine"))")
    let start = Date()
    let run = try runProcess(tool, ["--i", particles, "--f", postprocess, "--o", output + "/"] + arguments, cwd: folder)
    let seconds = Date().timeIntervalSince(start)
    try #require(run.status == 0, "relion_ctf_refine \(arguments.joined(separator: " ")): \(run.stderr.suffix(800))")
    let file = try RelionParticleFile(document: STARDocument(path: folder + "/" + output + "/particles_ctf_refine.star"))
    return RelionCtfRefineRun(particles: file, seconds: seconds)
}
