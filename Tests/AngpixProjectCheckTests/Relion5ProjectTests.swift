// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The RELION 4/5 findings of the check, on files of the shapes RELION 5 writes: a Refine3D
// run_data.star starting with `# version 50001` whose particles come from two MotionCorr jobs,
// default_pipeline.star, each job's corrected_micrographs.star and job.star, gain references.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
@testable import AngpixProjectCheck

/// A RELION 5 project: MotionCorr/job002 (K3 super-resolution, 0.52 → 1.04 Å/px, 3 micrographs,
/// optics group 1) and MotionCorr/job005 (0.4125 → 0.825 Å/px, 2 micrographs, group 2), joined
/// particles in Refine3D/job020/run_data.star (group 1 at 1.04 Å/px box 64, group 2 at 0.825 box 80).
struct Relion5Project {
    var original2 = 0.4125
    var micrograph2 = 0.825
    var gain2 = 0.4125
    var mtf2 = "MotionCorr/mtf_k3_300kV.star"
    /// Micrographs of job005 left out of its corrected_micrographs.star.
    var dropFromJob005 = 0
    var version = "50001"

    let project = MiniProject()
    var root: String { project.root }
    var runData: String { project.dir.file("Refine3D/job020/run_data.star") }

    static let job002Micrographs = (1...3).map { "MotionCorr/job002/Movies/FoilHole_\($0)_fractions.mrc" }
    static let job005Micrographs = (1...2).map { "MotionCorr/job005/Movies2/GridSquare_\($0)_EER.mrc" }

    func write() throws {
        let d = project.dir
        let v = "# version \(version)\n"
        // run_data.star as relion_refine of RELION 5 writes it (optics, then particles).
        var run = v + "\ndata_optics\n\nloop_ \n"
        let opticsLabels = ["rlnOpticsGroupName", "rlnOpticsGroup", "rlnMtfFileName", "rlnMicrographOriginalPixelSize", "rlnVoltage",
                            "rlnSphericalAberration", "rlnAmplitudeContrast", "rlnImagePixelSize", "rlnImageSize",
                            "rlnImageDimensionality", "rlnCtfDataAreCtfPremultiplied"]
        for (i, l) in opticsLabels.enumerated() { run += "_\(l) #\(i + 1) \n" }
        run += "opticsGroup1            1 MotionCorr/mtf_k3_300kV.star     0.520000   300.000000     2.700000     0.100000     1.040000           64            2            0 \n"
        run += "opticsGroup2            2 \(mtf2)     \(String(format: "%.6f", original2))   300.000000     2.700000     0.100000     0.825000           80            2            0 \n"
        run += " \n\n" + v + "\ndata_particles\n\nloop_ \n"
        let particleLabels = ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi",
                              "rlnImageName", "rlnMicrographName", "rlnOpticsGroup", "rlnCtfMaxResolution", "rlnCtfFigureOfMerit",
                              "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnCtfBfactor", "rlnCtfScalefactor", "rlnPhaseShift",
                              "rlnAngleRot", "rlnAngleTilt", "rlnOriginXAngst", "rlnOriginYAngst", "rlnNormCorrection",
                              "rlnLogLikeliContribution", "rlnMaxValueProbDistribution", "rlnNrOfSignificantSamples", "rlnRandomSubset"]
        for (i, l) in particleLabels.enumerated() { run += "_\(l) #\(i + 1) \n" }
        var n = 0
        for (m, mic) in (Self.job002Micrographs + Self.job005Micrographs).enumerated() {
            let group = m < 3 ? 1 : 2
            for p in 1...4 {
                n += 1
                let stack = "Extract/job0\(group == 1 ? "08" : "12")/Movies/\((mic as NSString).lastPathComponent.replacingOccurrences(of: ".mrc", with: ".mrcs"))"
                run += "\(100 * p).000000 \(200 + 10 * p).000000 0.8 1 \(10 * p).0 \(String(format: "%06d", p))@\(stack) \(mic) \(group) 3.5 0.12 "
                run += "12000.0 11800.0 35.0 0.0 1.0 0.0 \(5 * p).0 90.0 1.04 -0.52 0.98 123456.7 0.25 8 \(1 + n % 2) \n"
            }
        }
        d.write("Refine3D/job020/run_data.star", run + " \n")

        // default_pipeline.star as RELION 5 keeps it.
        d.write("default_pipeline.star", """
        \(v)
        data_pipeline_general

        _rlnPipeLineJobCounter                       21


        \(v)
        data_pipeline_processes

        loop_
        _rlnPipeLineProcessName #1
        _rlnPipeLineProcessAlias #2
        _rlnPipeLineProcessTypeLabel #3
        _rlnPipeLineProcessStatusLabel #4
        Import/job001/       None relion.importmovies  Succeeded
        MotionCorr/job002/       None relion.motioncorr.own  Succeeded
        Import/job004/       None relion.importmovies  Succeeded
        MotionCorr/job005/       None relion.motioncorr.own  Succeeded
        Refine3D/job020/       None relion.refine3d  Succeeded


        \(v)
        data_pipeline_nodes

        loop_
        _rlnPipeLineNodeName #1
        _rlnPipeLineNodeTypeLabel #2
        _rlnPipeLineNodeTypeLabelDepth #3
        Import/job001/movies.star MicrographMovieGroupMetadata.star.relion 1
        MotionCorr/job002/corrected_micrographs.star MicrographGroupMetadata.star.relion.motioncorr 1
        MotionCorr/job002/logfile.pdf LogFile.pdf.relion.motioncorr 1
        Import/job004/movies.star MicrographMovieGroupMetadata.star.relion 1
        MotionCorr/job005/corrected_micrographs.star MicrographGroupMetadata.star.relion.motioncorr 1
        Refine3D/job020/run_data.star ParticleGroupMetadata.star.relion.refine3d 1


        """)

        // Each job's corrected_micrographs.star, job.star and gain reference.
        let jobs: [(String, [String], String, Double, Double, Double)] = [
            ("MotionCorr/job002", Self.job002Micrographs, "opticsGroup1", 0.52, 1.04, 0.52),
            ("MotionCorr/job005", Array(Self.job005Micrographs.dropLast(dropFromJob005)), "opticsGroup2", original2, micrograph2, gain2),
        ]
        for (job, mics, name, original, micrograph, gain) in jobs {
            var c = v + "\ndata_optics\n\nloop_ \n"
            let labels = ["rlnOpticsGroupName", "rlnOpticsGroup", "rlnMtfFileName", "rlnMicrographOriginalPixelSize", "rlnVoltage",
                          "rlnSphericalAberration", "rlnAmplitudeContrast", "rlnMicrographPixelSize"]
            for (i, l) in labels.enumerated() { c += "_\(l) #\(i + 1) \n" }
            c += "\(name)            1 MotionCorr/mtf_k3_300kV.star     \(String(format: "%.6f", original))   300.000000     2.700000     0.100000     \(String(format: "%.6f", micrograph)) \n \n\n"
            c += v + "\ndata_micrographs\n\nloop_ \n_rlnCtfPowerSpectrum #1 \n_rlnMicrographName #2 \n_rlnMicrographMetadata #3 \n_rlnOpticsGroup #4 \n"
            c += "_rlnAccumMotionTotal #5 \n_rlnAccumMotionEarly #6 \n_rlnAccumMotionLate #7 \n"
            for m in mics {
                let base = (m as NSString).deletingPathExtension
                c += "\(base)_PS.mrc \(m) \(base).star            1    12.345    3.210    9.135 \n"
            }
            d.write("\(job)/corrected_micrographs.star", c + " \n")
            d.write("\(job)/job.star", """
            \(v)
            data_job

            _rlnJobTypeLabel             relion.motioncorr.own
            _rlnJobIsContinue                       0
            _rlnJobIsTomo                           0


            \(v)
            data_joboptions_values

            loop_
            _rlnJobOptionVariable #1
            _rlnJobOptionValue #2
            bin_factor          2
            fn_gain_ref \(job)/gain.mrc
            gain_rot "No rotation (0)"


            """)
            try project.map("\(job)/gain.mrc", n: 8, nz: 1, pixelSize: gain)
        }
    }

    func check(reference: String? = nil, relion: RelionVersion? = nil, finalResolution: Double? = nil) throws -> ProjectCheckReport {
        try ProjectChecker.check(ProjectCheckInputs(star: runData, reference: reference, projectDirectory: root,
                                                    relion: relion, finalResolution: finalResolution))
    }
}

@Test func relion5RunDataGetsTheReferenceResizeNotThe098Trap() throws {
    let p = Relion5Project()
    try p.write()
    // 75 px at 1.25 Å/px to the first group's 1.04: ROUND(90.14) = 90, 93.75 Å / 90 = 1.04167 Å/px.
    let ref = try p.project.map("Refine3D/job019/ref.mrc", n: 75, pixelSize: 1.25)
    let r = try p.check(reference: ref, finalResolution: 3.1)
    #expect(r.checked.last!.hasPrefix("for RELION 5 ("), "\(r.checked)")
    #expect(r.findings(.referencePixelSize).isEmpty && r.findings(.referenceNotFirstGroup).isEmpty)
    let f = try #require(r.findings(.referenceResize).first)
    #expect(f.severity == .warning && f.relion == [.v5])
    #expect(f.problem.contains("to box 90 (ROUND(75 × 1.250 / 1.040) = 90, made even), which is 1.04167 Å/px, not the first optics group's 1.040 Å/px: 0.00167 Å (0.160 %) off"), "\(f.problem)")
    #expect(f.problem.contains("at the final resolution of 3.10 Å that is 0.0050 Å (0.160 %)"))
    #expect(f.action.contains("`angpix map rescale \(ref) --box 208 -o ref_box208.mrc`"))
    #expect(f.action.contains("`angpix map rescale ref_box208.mrc --angpix 1.040 --box 64 -o ref_1.040.mrc`"))
    #expect(f.values["exactBox"] == 208)
    #expect(!r.serious)
    #expect(r.text.contains("  for:   RELION 5\n"))

    // The same project checked for RELION 4: the reference is the 0.98 → 0.96 kind of error.
    let r4 = try p.check(reference: ref, relion: .v4)
    #expect(r4.findings(.referenceResize).isEmpty)
    #expect(r4.findings(.referencePixelSize).first?.relion == [.v3_1, .v4])
    #expect(r4.serious && r4.checked.last == "for RELION 4 (--relion)")
}

@Test func relion5ReferenceThatReachesTheFirstGroupIsANote() throws {
    let p = Relion5Project()
    try p.write()
    // 78 × 1.2 / 1.04 = 90 exactly: RELION 5 reaches 1.040 Å/px.
    let ref = try p.project.map("ref.mrc", n: 78, pixelSize: 1.2)
    let r = try p.check(reference: ref)
    let f = try #require(r.findings(.referenceResize).first)
    #expect(f.severity == .info && f.problem.contains("to box 90 at 1.04000 Å/px"))
}

@Test func particlesFromTwoMotionCorrJobsGetThePolishingPlan() throws {
    let p = Relion5Project()
    try p.write()
    let r = try p.check()
    let plan = try #require(r.polishingPlan)
    #expect(plan.sets.map(\.job) == ["MotionCorr/job002", "MotionCorr/job005"])
    #expect(plan.sets.map(\.particles) == [12, 8])
    #expect(plan.sets.map(\.correctedMicrographs) == ["MotionCorr/job002/corrected_micrographs.star", "MotionCorr/job005/corrected_micrographs.star"])
    #expect(plan.sets[1].opticsGroups == ["opticsGroup2 (0.825 Å/px, box 80)"])
    #expect(plan.unlistedParticles == 0 && plan.multiplyListedParticles == 0)
    let f = try #require(r.findings(.polishingPlan).first)
    #expect(f.severity == .info && f.relion == RelionVersion.allCases)
    #expect(f.problem.hasPrefix("the particles come from 2 MotionCorr jobs and optics groups of different pixel size or box: MotionCorr/job002: 12 particles"))
    #expect(f.action.contains("`angpix star subset \(p.runData) --micrographs MotionCorr/job005/corrected_micrographs.star --only-used-groups -o PolishPlan/polish_MotionCorr_job005.star`"))
    #expect(f.action.contains("`angpix star join Polish/jobA/shiny.star Polish/jobB/shiny.star -o shiny_joined.star`"))
    #expect(r.findings(.polishingSubsets).isEmpty)
    #expect(r.checked.contains("MotionCorr/job005: MotionCorr/job005/corrected_micrographs.star, 2 micrographs, gain reference MotionCorr/job005/gain.mrc"))

    // Written: one subset per job, each particle in exactly one, each with only its optics group as group 1.
    let out = p.project.dir.file("PolishPlan")
    let written = try plan.write(to: out, policy: OutputPolicy())
    #expect(written.map { ($0 as NSString).lastPathComponent } == ["polish_MotionCorr_job002.star", "polish_MotionCorr_job005.star", "polish_plan.sh"])
    var total = 0
    for (i, path) in written.prefix(2).enumerated() {
        let file = try RelionParticleFile(document: try STARDocument(path: path), file: path)
        #expect(file.optics.groups.count == 1 && file.optics.groups[0].number == 1)
        #expect(file.optics.groups[0].name == "opticsGroup\(i + 1)")
        #expect(Set(try file.particles.ints("rlnOpticsGroup")) == [1])
        let mics = Set(try file.particles.strings("rlnMicrographName"))
        #expect(mics.isSubset(of: Set(i == 0 ? Relion5Project.job002Micrographs : Relion5Project.job005Micrographs)))
        total += file.particles.rowCount
    }
    #expect(total == 20)
    let script = try String(contentsOfFile: written[2], encoding: .utf8)
    #expect(script.hasPrefix("#!/bin/sh\n"))
    #expect(script.contains("angpix star join \"$SHINY1\" \"$SHINY2\" -o shiny_joined.star"))
    // The written plan is never overwritten without being asked.
    #expect(throws: (any Error).self) { try plan.write(to: out, policy: OutputPolicy()) }
}

@Test func particlesOnMicrographsListedByNoJobAreAnError() throws {
    var p = Relion5Project()
    p.dropFromJob005 = 1
    try p.write()
    let r = try p.check()
    let f = try #require(r.findings(.polishingSubsets).first)
    #expect(f.severity == .error && r.serious)
    #expect(f.problem.contains("4 particles are on micrographs listed in none of them (first MotionCorr/job005/Movies2/GridSquare_2_EER.mrc, line "))
    #expect(throws: (any Error).self) { try r.polishingPlan!.write(to: p.project.dir.file("Plan"), policy: OutputPolicy()) }
}

@Test func detectorPixelSizesGainBinningAndMTF() throws {
    // Clean: super-resolution gain references at the movies' pixel size, binning 2, one MTF per detector.
    let clean = Relion5Project()
    try clean.write()
    let c = try clean.check()
    #expect(c.findings(.gainReferencePixelSize).isEmpty && c.findings(.implausibleBinning).isEmpty && c.findings(.mtfDiffersOnDetector).isEmpty)

    // A gain reference at 0.429 Å for 0.4125 Å movies and 0.825 Å micrographs.
    var gain = Relion5Project()
    gain.gain2 = 0.429
    try gain.write()
    let g = try #require(try gain.check().findings(.gainReferencePixelSize).first)
    #expect(g.severity == .warning && g.relion == RelionVersion.allCases)
    #expect(g.problem.contains("MotionCorr/job005/gain.mrc, has header pixel size 0.429 Å, neither the movies' (0.4125) nor the micrographs' (0.825) Å"), "\(g.problem)")

    // Movies imported at 0.429 Å binned to 0.825 Å: a binning of 1.923.
    var binning = Relion5Project()
    binning.original2 = 0.429
    binning.gain2 = 0.429
    try binning.write()
    let b = try binning.check().findings(.implausibleBinning)
    #expect(b.count == 1)   // in corrected_micrographs.star; the particles' table has no rlnMicrographPixelSize
    #expect(b.first?.problem.contains("is a binning of 1.9231, not a plausible one") == true, "\(b)")

    // Two optics groups of one detector (0.52 Å at 300 kV) with different MTF files.
    var mtf = Relion5Project()
    mtf.original2 = 0.52
    mtf.micrograph2 = 1.04
    mtf.gain2 = 0.52
    mtf.mtf2 = "MotionCorr/mtf_k2_300kV.star"
    try mtf.write()
    let m = try #require(try mtf.check().findings(.mtfDiffersOnDetector).first)
    #expect(m.problem.contains("optics groups of one detector (original pixel size 0.520 Å at 300 kV) have different MTF files: opticsGroup1 MotionCorr/mtf_k3_300kV.star, opticsGroup2 MotionCorr/mtf_k2_300kV.star"), "\(m.problem)")
}

@Test func aMissingCorrectedMicrographsFileMakesThePlanAWarning() throws {
    let p = Relion5Project()
    try p.write()
    try FileManager.default.removeItem(atPath: p.project.dir.file("MotionCorr/job005/corrected_micrographs.star"))
    let r = try p.check()
    let f = try #require(r.findings(.polishingPlan).first)
    #expect(f.severity == .warning && f.action.hasPrefix("Find the corrected_micrographs.star of MotionCorr/job005"))
    #expect(r.checked.contains("MotionCorr/job005: no corrected_micrographs.star found, gain reference MotionCorr/job005/gain.mrc"))
    #expect(throws: (any Error).self) { try r.polishingPlan!.write(to: p.project.dir.file("Plan"), policy: OutputPolicy()) }
}

@Test func oneMotionCorrJobWithGroupsOfDifferentPixelSizeIsAWarningAndAFileWithoutVersionIsCheckedForAll() throws {
    let p = MiniProject()
    // MiniProject's particles are all on MotionCorr/job002/mic0…2.mrc, and its file has no RELION 5 line.
    let star = p.star("run_data.star", groups: [TestGroup(number: 1, name: "a", pixelSize: 1.0, box: 64),
                                                TestGroup(number: 2, name: "b", pixelSize: 1.1, box: 60)],
                      particles: [(1, "1@s.mrcs"), (2, "2@s.mrcs"), (1, "3@s.mrcs")])
    p.dir.write("MotionCorr/job002/corrected_micrographs.star", "data_micrographs\n\nloop_\n_rlnMicrographName #1\n" + (0..<3).map { "MotionCorr/job002/mic\($0).mrc\n" }.joined())
    let r = try ProjectChecker.check(ProjectCheckInputs(star: star, projectDirectory: p.root))
    let f = try #require(r.findings(.polishingPlan).first)
    #expect(f.severity == .warning && f.problem.hasPrefix("the particles come from one MotionCorr job (MotionCorr/job002) but from optics groups of different pixel size or box"))
    #expect(r.polishingPlan == nil)
    #expect(r.checked.last == "for RELION 3.1 and 4 (\(star) starts with `# version 30001`; --relion to choose)")
    let bare = p.dir.write("bare.star", try String(contentsOfFile: star, encoding: .utf8).replacingOccurrences(of: "# version 30001\n", with: ""))
    let all = try ProjectChecker.check(ProjectCheckInputs(star: bare, projectDirectory: p.root))
    #expect(all.checked.last == "for RELION 3.1, 4 and 5 (no `# version` line tells which; --relion to choose)")
}
