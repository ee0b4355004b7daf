// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// One test per finding of the project check, each on a generated mini-project, named after the
// trap of RELION's "Pixel size issues" page it shows.

import Foundation
import Testing
import AngpixTestSupport
import AngpixMRC
import AngpixCore
@testable import AngpixProjectCheck

private func particles(_ group: Int, _ count: Int, stack: String = "Extract/job007/Movies/s1.mrcs") -> [(group: Int, image: String)] {
    (1...count).map { (group, String(format: "%06d@%@", $0, stack)) }
}

private let dataset1 = TestGroup(number: 1, name: "dataset1", pixelSize: 1.0, box: 140)
private let dataset2 = TestGroup(number: 2, name: "dataset2", pixelSize: 1.1, box: 128)

@Test func testReferenceCorrectedInPostprocessIsThe098To096Trap() throws {
    let p = MiniProject()
    let star = p.star("run_data.star", groups: [dataset1], particles: particles(1, 4))
    let ref = try p.map("postprocess.mrc", n: 24, pixelSize: 0.98)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, reference: ref))
    let f = try #require(report.findings(.referencePixelSize).first)
    #expect(f.severity == .error)
    #expect(report.serious)
    #expect(abs(f.values["stretchedTruePixelSize"]! - 0.98 * 0.98 / 1.0) < 1e-4)
    #expect(f.problem.contains("0.980 Å/px is none of the optics groups' nominal pixel sizes (dataset1 1.000 Å/px)"))
    #expect(f.why.contains("0.980 × 0.980 / 1.000 = 0.960 Å/px"))
    #expect(f.action.contains("--angpix 1.000"))
    #expect(f.files == [ref, star])
}

@Test func testReferenceFromPostprocessIsNamedAsSuch() throws {
    let p = MiniProject()
    let star = p.star("run_data.star", groups: [dataset1], particles: particles(1, 2))
    try p.map("Refine3D/job010/run_half1_class001_unfil.mrc", n: 32, pixelSize: 1.0)
    try p.map("Refine3D/job010/run_half2_class001_unfil.mrc", n: 32, pixelSize: 1.0)
    let pp = p.postprocessStar("PostProcess/job011/postprocess.star", half1: "Refine3D/job010/run_half1_class001_unfil.mrc",
                               half2: "Refine3D/job010/run_half2_class001_unfil.mrc", box: 32, pixelSize: 0.98, finalResolution: 3.1)
    let ref = try p.map("PostProcess/job011/postprocess.mrc", n: 32, pixelSize: 0.98)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, reference: ref, postprocess: pp, projectDirectory: p.root))
    let f = try #require(report.findings(.referencePixelSize).first)
    #expect(f.problem.contains("it is the pixel size of \(pp), so this is a PostProcess map reused as a reference"))
}

@Test func testReferenceAtTheFirstGroupsPixelSizeAndBoxIsClean() throws {
    let p = MiniProject()
    let star = p.star("run_data.star", groups: [dataset1, dataset2], particles: particles(1, 3) + particles(2, 3))
    let ref = try p.map("ref.mrc", n: 140, nz: 1, pixelSize: 1.0)  // a single section keeps the file small
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, reference: ref))
    #expect(report.findings.isEmpty, "\(report.findings)")
    #expect(!report.serious)
    #expect(report.checked.contains { $0.contains("6 particles, 2 optics groups") })
}

@Test func testReferenceAtTheSecondGroupsPixelSizeIsOnlyInformation() throws {
    let p = MiniProject()
    let star = p.star("run_data.star", groups: [dataset1, dataset2], particles: particles(1, 2) + particles(2, 2))
    let ref = try p.map("ref.mrc", n: 16, pixelSize: 1.1)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, reference: ref))
    #expect(report.findings.map(\.code) == [.referenceNotFirstGroup])
    #expect(report.findings[0].severity == .info)
    #expect(!report.serious)
}

@Test func testMaskPixelSizeAndBoxDifferFromTheReference() throws {
    let p = MiniProject()
    let ref = try p.map("ref.mrc", n: 20, pixelSize: 1.0)
    let mask = try p.map("mask.mrc", n: 24, pixelSize: 1.05)
    let report = try ProjectChecker.check(ProjectCheckInputs(reference: ref, mask: mask))
    #expect(Set(report.findings.map(\.code)) == [.maskPixelSize, .maskBox])
    #expect(report.findings.allSatisfy { $0.severity == .error })
    let pixel = report.findings(.maskPixelSize)[0]
    #expect(pixel.problem == "\(mask) is at 1.050 Å/px, \(ref) at 1.000 Å/px")
    #expect(pixel.why.contains("5.0 % too small"))
    let box = report.findings(.maskBox)[0]
    #expect(box.problem.contains("box 24×24×24") && box.problem.contains("has 20×20×20"))
    // The same mask as the reference: nothing to report.
    let good = try p.map("mask_ok.mrc", n: 20, pixelSize: 1.0)
    #expect(try ProjectChecker.check(ProjectCheckInputs(reference: ref, mask: good)).findings.isEmpty)
}

@Test func testOpticsGroupsSharingANameButNotTheirOptics() throws {
    let p = MiniProject()
    var twin = dataset2
    twin.name = "dataset1"
    let star = p.star("joined.star", groups: [dataset1, twin], particles: particles(1, 2) + particles(2, 2))
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star))
    let f = try #require(report.findings(.opticsGroupNameConflict).first)
    #expect(f.severity == .error)
    #expect(f.problem.contains("optics groups 1, 2 share the name \"dataset1\" but not their optics"))
    #expect(f.problem.contains("rlnImagePixelSize 1.000000 in group 1 vs 1.100000 in group 2"))
    #expect(f.problem.contains("rlnImageSize 140 in group 1 vs 128 in group 2"))
    // Same name, same optics: only a note.
    var same = dataset1
    same.number = 2
    let star2 = p.star("same.star", groups: [dataset1, same], particles: particles(1, 1) + particles(2, 1))
    let report2 = try ProjectChecker.check(ProjectCheckInputs(star: star2))
    #expect(report2.findings.map(\.code) == [.opticsGroupNameRepeated])
    #expect(report2.findings[0].severity == .info)
}

@Test func testParticlesPointingToAMissingOpticsGroup() throws {
    let p = MiniProject()
    let star = p.star("run_data.star", groups: [dataset1, dataset2], particles: particles(1, 2) + particles(3, 5))
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star))
    let f = try #require(report.findings(.missingOpticsGroup).first)
    #expect(f.severity == .error)
    #expect(f.values["particles"] == 5)
    #expect(f.problem.contains("5 particles point to optics groups the optics table lacks: group 3: 5 particles (first on line"))
    #expect(f.problem.contains("the table has 1, 2"))
    // No rlnOpticsGroup column with two groups.
    let star2 = p.star("nocol.star", groups: [dataset1, dataset2], particles: particles(1, 2), opticsGroupColumn: false)
    let f2 = try #require(try ProjectChecker.check(ProjectCheckInputs(star: star2)).findings(.missingOpticsGroup).first)
    #expect(f2.problem.contains("no rlnOpticsGroup column but the optics table has 2 groups"))
    // …which is fine with a single group.
    let star3 = p.star("one.star", groups: [dataset1], particles: particles(1, 2), opticsGroupColumn: false)
    #expect(try ProjectChecker.check(ProjectCheckInputs(star: star3)).findings.isEmpty)
}

@Test func testStackHeadersAgainstImagePixelSizeAndImageSize() throws {
    let p = MiniProject()
    let g1 = TestGroup(number: 1, name: "good", pixelSize: 1.0, box: 16)
    let g2 = TestGroup(number: 2, name: "rescaled", pixelSize: 1.0, box: 16)
    let g3 = TestGroup(number: 3, name: "cropped", pixelSize: 1.2, box: 16)
    try p.map("Extract/job007/Movies/a.mrcs", n: 16, nz: 3, pixelSize: 1.0, isStack: true)
    try p.map("Extract/job007/Movies/b.mrcs", n: 16, nz: 3, pixelSize: 1.1, isStack: true)   // header disagrees
    try p.map("Extract/job007/Movies/c.mrcs", n: 14, nz: 3, pixelSize: 1.2, isStack: true)   // box disagrees
    try p.map("Extract/job007/Movies/d.mrcs", n: 16, nz: 2, pixelSize: 1.0, isStack: true)   // too short
    let rows = particles(1, 3, stack: "Extract/job007/Movies/a.mrcs") + particles(2, 3, stack: "Extract/job007/Movies/b.mrcs")
        + particles(3, 3, stack: "Extract/job007/Movies/c.mrcs") + particles(1, 3, stack: "Extract/job007/Movies/d.mrcs")
        + particles(1, 2, stack: "Extract/job007/Movies/gone.mrcs")
    // The STAR file sits two folders down, as a job's output does; the paths start at the project folder.
    let star = p.star("Refine3D/job010/run_data.star", groups: [g1, g2, g3], particles: rows)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, openStacks: true, projectDirectory: "/nonexistent"))
    let pixel = try #require(report.findings(.stackPixelSize).first)
    #expect(pixel.severity == .error)
    #expect(pixel.problem.contains("1 of 1 stack of optics group 2 (rescaled) have header pixel size 1.100 Å/px, the optics table says rlnImagePixelSize 1.000"))
    let box = try #require(report.findings(.stackBox).first)
    #expect(box.problem.contains("optics group 3 (cropped) hold 14×14 images, the optics table says rlnImageSize 16"))
    let index = try #require(report.findings(.stackIndex).first)
    #expect(index.problem.contains("Extract/job007/Movies/d.mrcs: image 3 of 2"))
    let missing = try #require(report.findings(.stackMissing).first)
    #expect(missing.problem.contains("1 of 5 stacks not found (2 particles; Extract/job007/Movies/gone.mrcs)"))
    #expect(report.checked.contains { $0.contains("opened 4 of 5 particle stacks") })
    #expect(report.serious)
    // Without --stacks, the stacks are not opened and nothing is reported about them.
    let quick = try ProjectChecker.check(ProjectCheckInputs(star: star))
    #expect(quick.findings.isEmpty, "\(quick.findings)")
}

@Test func testRelion30ColumnsLeftInARelion31File() throws {
    let p = MiniProject()
    // rlnDetectorPixelSize 14 µm at magnification 140000 is 1.000 Å/px (agrees); at 127273 it is 1.100 Å/px.
    let star = p.star("run_data.star", groups: [dataset1], particles: particles(1, 3),
                      extraParticleColumns: ["rlnMagnification": ["140000", "140000", "127273"],
                                             "rlnDetectorPixelSize": ["14", "14", "14"],
                                             "rlnOriginX": ["1.5", "0", "-2"], "rlnOriginY": ["0", "0", "1"]])
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star))
    let mag = try #require(report.findings(.relion30Magnification).first)
    #expect(mag.severity == .warning)
    #expect(mag.problem.contains("rlnMagnification, rlnDetectorPixelSize left in data_particles"))
    #expect(mag.problem.contains("they imply 1.100 Å/px for group 1 (rlnImagePixelSize 1.000)"))
    let origins = try #require(report.findings(.relion30Origins).first)
    #expect(origins.severity == .error)
    #expect(origins.problem.contains("rlnOriginX, rlnOriginY (RELION 3.0 origins in pixels) but no rlnOriginXAngst, rlnOriginYAngst"))
    // Stale but consistent columns are only notes.
    let star2 = p.star("stale.star", groups: [dataset1], particles: particles(1, 2),
                       extraParticleColumns: ["rlnMagnification": ["140000", "140000"], "rlnDetectorPixelSize": ["14", "14"],
                                              "rlnOriginX": ["2", "1"], "rlnOriginXAngst": ["2.0", "1.0"]])
    let report2 = try ProjectChecker.check(ProjectCheckInputs(star: star2))
    #expect(Set(report2.findings.map(\.code)) == [.relion30Magnification, .relion30Origins])
    #expect(report2.findings.allSatisfy { $0.severity == .info })
    #expect(!report2.serious)
}

@Test func testARelion30FileIsReportedWithItsPixelSize() throws {
    let p = MiniProject()
    let text = """
    data_
    loop_
    _rlnImageName #1
    _rlnMagnification #2
    _rlnDetectorPixelSize #3
    _rlnVoltage #4
    _rlnSphericalAberration #5
    _rlnAmplitudeContrast #6
    000001@Particles/a.mrcs 127273 14 300 2.7 0.1
    000002@Particles/a.mrcs 127273 14 300 2.7 0.1
    """
    let star = p.dir.write("old.star", text + "\n")
    let ref = try p.map("ref.mrc", n: 12, pixelSize: 1.1)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, reference: ref))
    #expect(report.findings.map(\.code) == [.relion30File])
    #expect(report.findings[0].problem.contains("its pixel size is 1.100 Å/px"))
}

@Test func testMtfWithoutTheOriginalPixelSize() throws {
    let p = MiniProject()
    var g = dataset2
    g.extra = ["rlnMtfFileName": "mtf_k3_300kV.star"]
    let star = p.star("run_data.star", groups: [dataset1, g], particles: particles(1, 1) + particles(2, 1))
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star))
    // Group 1 has the column too, with "None" (no MTF).
    let f = try #require(report.findings(.mtfWithoutOriginalPixelSize).first)
    #expect(f.severity == .warning)
    #expect(f.problem.contains("group 2 (dataset2, 1.100 Å/px, MTF mtf_k3_300kV.star)"))
    // With rlnMicrographOriginalPixelSize there is nothing to say.
    g.extra["rlnMicrographOriginalPixelSize"] = "0.55"
    var g1 = dataset1
    g1.extra = ["rlnMtfFileName": "mtf_k3_300kV.star", "rlnMicrographOriginalPixelSize": "0.5"]
    let star2 = p.star("ok.star", groups: [g1, g], particles: particles(1, 1) + particles(2, 1))
    #expect(try ProjectChecker.check(ProjectCheckInputs(star: star2)).findings(.mtfWithoutOriginalPixelSize).isEmpty)
}

@Test func testPostprocessAtACorrectedPixelSizeAgainstItsHalfMaps() throws {
    let p = MiniProject()
    try p.map("Refine3D/job010/run_half1_class001_unfil.mrc", n: 32, pixelSize: 1.0)
    try p.map("Refine3D/job010/run_half2_class001_unfil.mrc", n: 32, pixelSize: 1.0)
    let pp = p.postprocessStar("PostProcess/job011/postprocess.star", half1: "Refine3D/job010/run_half1_class001_unfil.mrc",
                               half2: "Refine3D/job010/run_half2_class001_unfil.mrc", box: 32, pixelSize: 0.98, finalResolution: 3.0)
    let report = try ProjectChecker.check(ProjectCheckInputs(postprocess: pp, projectDirectory: p.root))
    let f = try #require(report.findings(.postprocessPixelSize).first)
    #expect(f.severity == .warning)
    #expect(abs(f.values["postprocessPixelSize"]! - 0.98) < 1e-4)
    #expect(f.problem.contains("was made at 0.980 Å/px, its half maps' headers say 1.000 Å/px"))
    #expect(f.why.contains("0.980 × 0.980 / 1.000 = 0.960 Å/px"))
    #expect(f.why.contains("3.06 Å at the half maps' 1.000 Å/px"))
    // PostProcess at the half maps' own pixel size: nothing to report.
    let same = p.postprocessStar("PostProcess/job012/postprocess.star", half1: "Refine3D/job010/run_half1_class001_unfil.mrc",
                                 half2: "Refine3D/job010/run_half2_class001_unfil.mrc", box: 32, pixelSize: 1.0, finalResolution: 3.0)
    #expect(try ProjectChecker.check(ProjectCheckInputs(postprocess: same, projectDirectory: p.root)).findings.isEmpty)
}

@Test func testHalfMapsThatDifferOrAreMissing() throws {
    let p = MiniProject()
    try p.map("h1.mrc", n: 32, pixelSize: 1.0)
    try p.map("h2.mrc", n: 32, pixelSize: 1.1)
    let pp = p.postprocessStar("postprocess.star", half1: "h1.mrc", half2: "h2.mrc", box: 32, pixelSize: 1.0, finalResolution: 3)
    let report = try ProjectChecker.check(ProjectCheckInputs(postprocess: pp, projectDirectory: p.root))
    #expect(report.findings(.halfMapsDiffer).first?.severity == .error)
    let gone = p.postprocessStar("pp2.star", half1: "h1.mrc", half2: "nothere.mrc", box: 32, pixelSize: 1.0, finalResolution: 3)
    let report2 = try ProjectChecker.check(ProjectCheckInputs(postprocess: gone, projectDirectory: p.root))
    #expect(report2.findings.map(\.code) == [.halfMapMissing])
    #expect(report2.findings[0].problem.contains("nothere.mrc"))
}

@Test func testFindingsAreSortedErrorsFirstAndEncodeAsJSON() throws {
    let a = Finding(.relion30Origins, .info, files: [], problem: "a", why: "", action: "")
    let b = Finding(.referencePixelSize, .error, files: ["x"], problem: "b", why: "", action: "")
    let c = Finding(.magnificationScale, .warning, files: [], problem: "c", why: "", action: "", values: ["scale": 1.02])
    let report = ProjectCheckReport(findings: [a, b, c], checked: ["x: y"])
    #expect(report.findings.map(\.problem) == ["b", "c", "a"])
    let data = try JSONEncoder().encode(report)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains("\"serious\":true") && text.contains("\"code\":\"reference-pixel-size\""))
    #expect(try JSONDecoder().decode(ProjectCheckReport.self, from: data) == report)
}

@Test func testBadInputsAreErrors() throws {
    let p = MiniProject()
    #expect(throws: ProjectCheckError.nothingToCheck) { try ProjectChecker.check(ProjectCheckInputs()) }
    #expect(throws: ProjectCheckError.stacksNeedStar) {
        try ProjectChecker.check(ProjectCheckInputs(reference: "x.mrc", openStacks: true))
    }
    let notParticles = p.dir.write("general.star", "data_general\n_rlnFinalResolution 3.0\n")
    #expect(throws: ProjectCheckError.noParticleTable(file: notParticles)) {
        try ProjectChecker.check(ProjectCheckInputs(star: notParticles))
    }
    // A missing file is the reader's error, naming the file.
    let missing = #expect(throws: CoreError.self) {
        _ = try ProjectChecker.check(ProjectCheckInputs(reference: p.dir.file("missing.mrc")))
    }
    #expect(missing == .fileNotFound(path: p.dir.file("missing.mrc")), "\(String(describing: missing))")
}

/// The relativistic electron wavelength in Å (computed here independently of the Optics module).
private func wavelength(kilovolts: Double) -> Double {
    let v = kilovolts * 1000
    return 12.2642598 / (v * (1 + 0.978466e-6 * v)).squareRoot()
}

@Test func testLargeZ40GivesTheTruePixelSize051For054Nominal() throws {
    // The reference text's case: nominal 0.54 Å/px, truly 0.51; CtfRefine's Z40 makes Cs 2.7 look like 3.394 mm.
    let csApparent = 2.7 * pow(0.54 / 0.51, 4)
    let lambda = wavelength(kilovolts: 300)
    let z40 = (csApparent - 2.7) * 1e7 * Double.pi * lambda * lambda * lambda / 12
    let zernike = "[0,0,0,0,0,0,\(z40)]"
    var g = TestGroup(number: 1, name: "k3", pixelSize: 0.54, box: 256, extra: ["rlnEvenZernike": zernike])
    let p = MiniProject()
    let star = p.star("particles_ctf_refine.star", groups: [g], particles: particles(1, 2))
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star))
    let f = try #require(report.findings(.largeZ40).first)
    #expect(f.severity == .warning)
    #expect(abs(f.values["truePixelSize"]! - 0.51) < 1e-4)
    #expect(abs(f.values["csApparent"]! - 3.3936) < 1e-3)
    #expect(f.problem.contains("the true pixel size is 0.510 Å/px, not 0.540 (5.9 % off)"))
    #expect(!report.serious)
    // A small Z40 (under 0.5 % of pixel size) is not reported; neither is a group with too few coefficients.
    g.extra["rlnEvenZernike"] = "[0,0,0,0,0,0,\(z40 / 100)]"
    let star2 = p.star("small.star", groups: [g], particles: particles(1, 1))
    #expect(try ProjectChecker.check(ProjectCheckInputs(star: star2)).findings.isEmpty)
    g.extra["rlnEvenZernike"] = "[0,0,0]"
    let star3 = p.star("short.star", groups: [g], particles: particles(1, 1))
    #expect(try ProjectChecker.check(ProjectCheckInputs(star: star3)).findings.isEmpty)
}

@Test func testMagMatScalesGiveRelativePixelSizesOfTheGroups() throws {
    // The reference text's two groups: 1.00 and 0.95 Å/px, truly 1.00 and 0.90; a reconstruction
    // truly at 0.99 Å/px puts 0.9900 and 1.045 in rlnMagMat.
    func mag(_ s: Double) -> [String: String] {
        ["rlnMagMat00": "\(s)", "rlnMagMat01": "0", "rlnMagMat10": "0", "rlnMagMat11": "\(s)"]
    }
    let g1 = TestGroup(number: 1, name: "scope1", pixelSize: 1.0, box: 64, extra: mag(0.99))
    let g2 = TestGroup(number: 2, name: "scope2", pixelSize: 0.95, box: 64, extra: mag(1.045))
    let g3 = TestGroup(number: 3, name: "scope3", pixelSize: 1.0, box: 64, extra: mag(1.002))
    let p = MiniProject()
    let star = p.star("particles_ctf_refine.star", groups: [g1, g2, g3], particles: particles(1, 1) + particles(2, 1) + particles(3, 1))
    let ref = try p.map("run_class001.mrc", n: 16, pixelSize: 1.0)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star, reference: ref))
    let found = report.findings(.magnificationScale)
    #expect(found.count == 2)  // 1.002 is within 0.5 %
    #expect(found.allSatisfy { $0.severity == .warning })
    #expect(found[0].problem.contains("optics group 1 (scope1): rlnMagMat scale 0.9900: its particles look 1.0 % smaller"))
    #expect(abs(found[1].values["impliedPixelSize"]! - 0.95 / 1.045) < 1e-6)
    #expect(found[1].problem.contains("this group's true pixel size is 0.9091 Å/px, not 0.950"))
    #expect(found[1].action.contains("angpix optics trace"))
}

/// A box of `nan` (what a script that divided by zero wrote) and a pixel size of 0: RELION stops
/// when it opens the file; `check` describes the file anyway and lists every such value as an
/// error with its line.
@Test func testInvalidOpticsValuesAreFindingsNotAStop() throws {
    let p = MiniProject()
    let text = """
    data_optics
    loop_
    _rlnOpticsGroup #1
    _rlnOpticsGroupName #2
    _rlnAmplitudeContrast #3
    _rlnSphericalAberration #4
    _rlnVoltage #5
    _rlnImagePixelSize #6
    _rlnImageSize #7
    _rlnImageDimensionality #8
    1 opticsGroup1 0.1 2.7 300 1.06 nan 2
    2 opticsGroup2 0.1 2.7 300 0 200 2

    data_particles
    loop_
    _rlnImageName #1
    _rlnOpticsGroup #2
    000001@Extract/job007/mic001.mrcs 1
    000002@Extract/job007/mic001.mrcs 2

    """
    let star = p.dir.write("broken.star", text)
    let report = try ProjectChecker.check(ProjectCheckInputs(star: star))
    let invalid = report.findings.filter { $0.code == .invalidOpticsValue }
    #expect(invalid.count == 2, "\(report.findings.map(\.problem))")
    #expect(invalid.allSatisfy { $0.severity == .error })
    #expect(invalid.contains { $0.problem.contains("broken.star:11") && $0.problem.contains("rlnImageSize") }, "\(invalid.map(\.problem))")
    #expect(invalid.contains { $0.problem.contains("broken.star:12") && $0.problem.contains("not a positive pixel size") }, "\(invalid.map(\.problem))")
}
