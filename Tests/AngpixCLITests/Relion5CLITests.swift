// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of the RELION 4/5 parts of `angpix optics trace` and `angpix check`: the
// release read from a RELION 5 file's `# version 50001` line, --relion, the reference resize, and
// the Polishing plan written by --write-plan for particles of two MotionCorr jobs.

import Foundation
import Testing
import AngpixTestSupport
import AngpixCore
import AngpixMRC

/// A RELION 5 project with the particles of two MotionCorr jobs (2 micrographs each, one optics group each).
private func relion5Project(_ dir: TemporaryDirectory) -> String {
    let v = "# version 50001\n"
    var run = v + "\ndata_optics\n\nloop_ \n_rlnOpticsGroupName #1 \n_rlnOpticsGroup #2 \n_rlnMicrographOriginalPixelSize #3 \n"
    run += "_rlnVoltage #4 \n_rlnSphericalAberration #5 \n_rlnAmplitudeContrast #6 \n_rlnImagePixelSize #7 \n_rlnImageSize #8 \n_rlnImageDimensionality #9 \n"
    run += "opticsGroup1 1 0.520000 300.0 2.7 0.1 1.040000 64 2 \nopticsGroup2 2 0.412500 300.0 2.7 0.1 0.825000 80 2 \n \n\n"
    run += v + "\ndata_particles\n\nloop_ \n_rlnImageName #1 \n_rlnMicrographName #2 \n_rlnOpticsGroup #3 \n_rlnDefocusU #4 \n"
    let mics = ["MotionCorr/job002/Movies/a.mrc", "MotionCorr/job002/Movies/b.mrc", "MotionCorr/job005/Movies/c.mrc", "MotionCorr/job005/Movies/d.mrc"]
    for (i, m) in mics.enumerated() {
        for p in 1...3 { run += "00000\(p)@Extract/job009/Movies/\(i).mrcs \(m) \(i < 2 ? 1 : 2) 12000.0 \n" }
    }
    let star = dir.write("Refine3D/job020/run_data.star", run)
    for (job, list, name, px) in [("MotionCorr/job002", mics.prefix(2), "opticsGroup1", "1.040000"), ("MotionCorr/job005", mics.suffix(2), "opticsGroup2", "0.825000")] {
        var c = v + "\ndata_optics\n\nloop_ \n_rlnOpticsGroupName #1 \n_rlnOpticsGroup #2 \n_rlnMicrographPixelSize #3 \n\(name) 1 \(px) \n \n\n"
        c += v + "\ndata_micrographs\n\nloop_ \n_rlnMicrographName #1 \n_rlnOpticsGroup #2 \n"
        for m in list { c += "\(m) 1 \n" }
        dir.write("\(job)/corrected_micrographs.star", c)
    }
    dir.write("default_pipeline.star", v + """

    data_pipeline_nodes

    loop_
    _rlnPipeLineNodeName #1
    _rlnPipeLineNodeTypeLabel #2
    MotionCorr/job002/corrected_micrographs.star MicrographGroupMetadata.star.relion.motioncorr
    MotionCorr/job005/corrected_micrographs.star MicrographGroupMetadata.star.relion.motioncorr

    """)
    return star
}

@Test func opticsTraceFollowsRelion5ForARelion5File() throws {
    let dir = TemporaryDirectory("relion5-cli")
    let star = relion5Project(dir)
    // Default from `# version 50001`: RELION 5; 75 px at 1.25 Å/px → 90 px, 1.04167 Å/px.
    let r = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.25", "--reference-box", "75"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("Following relion_refine of RELION 5: the reference (box 75, 1.25 Å/px) is resized to box 90, 1.04167 Å/px, windowed to 64;"))
    #expect(r.stderr.contains("not the first optics group's 1.04 Å/px"))
    let r31 = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.25", "--relion", "3.1"])
    #expect(r31.stdout.hasPrefix("Following relion_refine of RELION 3.1: every optics group is rescaled to the reference's pixel size 1.2500 Å/px;"))
    #expect(r31.stderr.contains("0.98 → 0.96"))
    let bad = try runAngpix(["optics", "trace", star, "--reference-angpix", "1.25", "--relion", "3.0"])
    #expect(bad.status != 0 && bad.stderr.contains("--relion 3.0: expected 3.1, 4 or 5"))
}

@Test func checkWritesThePolishingPlanOfTwoMotionCorrJobs() throws {
    let dir = TemporaryDirectory("relion5-cli")
    let star = relion5Project(dir)
    let ref = dir.file("ref.mrc")
    try MRCFile.write(MRCMap(nx: 75, ny: 75, nz: 75, pixelSize: 1.25, data: [Float](repeating: 0, count: 75 * 75 * 75)), to: ref, policy: OutputPolicy())
    let r = try runAngpix(["check", "--star", "Refine3D/job020/run_data.star", "--reference", "ref.mrc", "--resolution", "3.1",
                           "--write-plan", "PolishPlan"], cwd: dir.path)
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.contains("WARNING [reference-resize] RELION 5 will resize ref.mrc"))
    #expect(r.stdout.contains("INFO [polishing-plan]"))
    #expect(r.stdout.contains("  for:   RELION 3.1, 4 and 5\n"))
    #expect(r.stdout.contains("checked for RELION 5 (Refine3D/job020/run_data.star starts with `# version 50001`;"))
    #expect(r.stderr.contains("wrote PolishPlan/polish_MotionCorr_job002.star"))
    for name in ["polish_MotionCorr_job002.star", "polish_MotionCorr_job005.star", "polish_plan.sh"] {
        #expect(FileManager.default.fileExists(atPath: dir.file("PolishPlan/\(name)")))
    }
    // The subset command printed in the plan makes the same file.
    let again = try runAngpix(["star", "subset", "Refine3D/job020/run_data.star", "--micrographs", "MotionCorr/job005/corrected_micrographs.star",
                               "--only-used-groups", "-o", "again.star"], cwd: dir.path)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(try String(contentsOfFile: dir.file("again.star"), encoding: .utf8) == String(contentsOfFile: dir.file("PolishPlan/polish_MotionCorr_job005.star"), encoding: .utf8))
    // Not again without --force; --relion 4 reports the reference as the 0.98 → 0.96 kind of error.
    let twice = try runAngpix(["check", "--star", "Refine3D/job020/run_data.star", "--write-plan", "PolishPlan"], cwd: dir.path)
    #expect(twice.status != 0)
    let r4 = try runAngpix(["check", "--star", "Refine3D/job020/run_data.star", "--reference", "ref.mrc", "--relion", "4"], cwd: dir.path)
    #expect(r4.status == 1 && r4.stdout.contains("ERROR [reference-pixel-size]") && !r4.stdout.contains("reference-resize"))
}
