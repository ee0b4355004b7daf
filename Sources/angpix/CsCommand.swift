// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix cs info` and `angpix star from-cs`: cryoSPARC .cs files (NumPy record arrays) and their
// conversion to a RELION 3.1+ particle STAR file. The logic and the conventions (with their
// evidence) live in the AngpixCryoSPARC module and docs/cryosparc.md.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixCryoSPARC

struct CsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cs",
        abstract: "Read cryoSPARC .cs files.",
        discussion: """
        Example:
          angpix cs info J42/J42_005_particles.cs J42/J42_passthrough_particles.cs --project-dir /data/P7
        """,
        subcommands: [CsInfoCommand.self]
    )
}

struct CsInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the records and fields of .cs files and, for particles, their pixel sizes and optics.",
        discussion: """
        The first file is the main file; the others are its passthrough files (matched by uid). \
        For particle files: the pixel sizes of the images (blob/psize_A) and of the alignments \
        (alignments2D/3D psize_A), boxes, exposure groups with voltage, Cs, Q0, anisotropic \
        magnification and aberrations, and warnings: alignments at another pixel size than the \
        images, anisomag or aberrations present, stacks missing under --project-dir.

        Example:
          angpix cs info J42_005_particles.cs J42_passthrough_particles.cs
          angpix cs info particles.cs --json
        """
    )

    @Argument(help: "The .cs file, then its passthrough .cs files.") var files: [String]
    @Option(help: "cryoSPARC project folder: check that the particle stacks (blob/path) exist below it.") var projectDir: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one .cs file") }
    }

    func run() throws {
        let info = try CryoSPARCInfo(paths: files, projectDirectory: projectDir)
        if json { try printJSON(info); return }
        for f in info.files {
            print("\(f.path): NumPy \(f.npyVersion) record array, \(f.records) record\(f.records == 1 ? "" : "s") of \(f.itemSize) bytes, \(f.fields.count) fields")
            let width = min(40, f.fields.map(\.name.count).max() ?? 0)
            for field in f.fields {
                let shape = field.shape.isEmpty ? "" : " (\(field.shape.map(String.init).joined(separator: ",")))"
                print("  \(field.name.padding(toLength: max(width, field.name.count), withPad: " ", startingAt: 0))  \(field.type)\(shape)")
            }
        }
        if let n = info.particles {
            print("particles: \(n)")
            if let ps = info.blobPixelSizes {
                print("  image pixel size (blob/psize_A): " + ps.map { "\(fmt($0.pixelSize)) Å (\($0.particles))" }.joined(separator: ", "))
            }
            if let a = info.alignments {
                if let ps = info.alignmentPixelSizes {
                    print("  alignments: \(a)\(info.classes.map { " (\($0) classes)" } ?? ""), pixel size (\(a)/psize_A): " + ps.map { "\(fmt($0.pixelSize)) Å (\($0.particles))" }.joined(separator: ", "))
                } else {
                    print("  alignments: \(a) (no psize_A)")
                }
            } else {
                print("  alignments: none")
            }
            if let c = info.hasCoordinates { print("  coordinates (location/center_x_frac, center_y_frac, micrograph_shape): \(c ? "yes" : "no")") }
            if let b = info.boxes { print("  boxes: \(b.joined(separator: ", "))") }
            if let s = info.stacks { print("  stacks: \(s)\(info.missingStacks.map { ", \($0.count) missing" } ?? "")") }
            if let groups = info.opticsGroups {
                print("optics (one line per distinct exposure group and optics):")
                print("  exp_group  particles  pixel(Å)    box  kV      Cs(mm)  Q0     anisomag / tilt_A / trefoil_A / tetra_A")
                for g in groups {
                    var aberr: [String] = []
                    if g.hasAnisomag { aberr.append("anisomag " + g.anisomag.map { fmt($0) }.joined(separator: " ")) }
                    if g.hasTilt { aberr.append("tilt_A " + g.tilt.map { fmt($0) }.joined(separator: " ")) }
                    if g.hasTrefoil { aberr.append("trefoil_A " + g.trefoil.map { fmt($0) }.joined(separator: " ")) }
                    if g.hasTetrafoil { aberr.append("tetra_A " + g.tetrafoil.map { fmt($0) }.joined(separator: " ")) }
                    let cells = [pad(g.exposureGroup.map(String.init) ?? "-", 9, right: true), pad(String(g.count), 9, right: true),
                                 pad(fmt(g.pixelSize), 8, right: true), pad("\(g.boxX)", 5, right: true), pad(fmt(g.voltage), 6),
                                 pad(fmt(g.cs), 6), pad(fmt(g.amplitudeContrast), 5), aberr.isEmpty ? "none" : aberr.joined(separator: "; ")]
                    print("  " + cells.joined(separator: "  "))
                }
            }
        }
        for w in info.warnings { print("warning: \(w)") }
    }

    func fmt(_ x: Double) -> String { String(format: "%.6g", x) }
    func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        s.count >= n ? s : (right ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
    }
}

struct StarFromCsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "from-cs",
        abstract: "Convert cryoSPARC particles (.cs) to a RELION 3.1+ particle STAR file.",
        discussion: """
        One optics group per distinct exposure group and optics (pixel size, box, voltage, Cs, Q0, \
        anisotropic magnification, aberrations), named after the exposure group. rlnImageName is \
        (blob/idx + 1)@blob/path; rlnMicrographName and rlnCoordinateX/Y (pixels: center_x_frac × \
        width, center_y_frac × height of location/micrograph_shape) come from location/…; angles \
        come from the pose (RELION's A is the transpose of the \
        pose's rotation matrix, as in pyem); origins in Å are the shifts times the alignments' \
        pixel size (which differs from the images' after a refinement of downsampled particles); \
        rlnMagMat is (I + anisomag)⁻ᵀ; tilt_A becomes rlnBeamTiltX/Y in mrad (tilt_A / Cs); \
        trefoil, ctf/shift_A and tetrafoil become rlnOddZernike / rlnEvenZernike. A 3D \
        classification (alignments3D_multi) gives each particle the pose of its most probable \
        class; --class keeps chosen classes. cryoSPARC's stacks are named .mrc, which RELION does \
        not read as stacks: --mrcs-links DIR makes .mrcs links to them in DIR and names those. \
        Every convention and its evidence: docs/cryosparc.md. The output is written atomically and \
        never over an input.

        Example:
          angpix star from-cs J42_005_particles.cs --passthrough J42_passthrough_particles.cs -o particles.star --project-dir /data/P7
          angpix star from-cs particles.cs -o particles.star --cs-nominal 2.7   # then: angpix calibrate zernike particles.star --cs-true 2.7
          angpix star from-cs J50_00040_particles.cs --passthrough J50_passthrough_particles.cs --class 2 --mrcs-links Stacks -o class2.star --project-dir /data/P7
        """
    )

    @Argument(help: "The particles .cs file (e.g. a refinement's J42_005_particles.cs).") var input: String
    @Option(name: .long, help: "A passthrough .cs file with more fields of the same particles (repeatable).") var passthrough: [String] = []
    @Option(name: .shortAndLong, help: "The RELION particle STAR file to write.") var output: String
    @Option(help: "cryoSPARC project folder: checks that the stacks exist below it (and is the default --stack-prefix).") var projectDir: String?
    @Option(help: "Prefix for every stack and micrograph path (default: --project-dir with a trailing /, else none).") var stackPrefix: String?
    @Flag(help: "Write .mrcs for stacks named .mrc (RELION reads stacks as .mrcs; link or rename the files).") var mrcs = false
    @Option(help: ArgumentHelp("Make a symbolic link DIR/<blob/path>.mrcs to each stack and name the links in the STAR file.", valueName: "DIR")) var mrcsLinks: String?
    @Flag(help: "rlnCoordinateY = (1 − center_y_frac) × height: for micrographs stored upside down with respect to those cryoSPARC picked on.") var flipY = false
    @Option(name: .customLong("class"), help: "Keep only the particles of this class (1-based, as rlnClassNumber; repeatable).") var classes: [Int] = []
    @Option(help: "Write this Cs (mm) as rlnSphericalAberration and the difference to ctf/cs_mm as Z40, for `angpix calibrate zernike`.") var csNominal: Double?
    @Flag(help: "Overwrite the output if it exists.") var force = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        if let c = csNominal, !(c.isFinite && c > 0) { throw ValidationError("--cs-nominal must be a positive Cs in mm") }
        let inputs = [input] + passthrough
        let policy = OutputPolicy(overwrite: force, inputs: inputs)
        try policy.check(output)
        let set = try CryoSPARCParticles(path: input, passthroughs: passthrough)
        var prefix = stackPrefix ?? ""
        if stackPrefix == nil, let dir = projectDir { prefix = dir.hasSuffix("/") ? dir : dir + "/" }
        var missingNote: String? = nil
        if let dir = projectDir {
            let info = try CryoSPARCInfo(paths: inputs, projectDirectory: dir)
            if let m = info.missingStacks, !m.isEmpty { missingNote = "\(m.count) of \(info.stacks ?? 0) stacks do not exist under \(dir) (first: \(m[0]))" }
        }
        if mrcs && mrcsLinks != nil { throw ValidationError("give --mrcs or --mrcs-links, not both") }
        if let bad = classes.first(where: { $0 < 1 }) { throw ValidationError("--class \(bad): classes are numbered from 1") }
        let options = CryoSPARCToRelionOptions(stackPrefix: prefix, mrcsSuffix: mrcs, linkFolder: mrcsLinks, csNominal: csNominal,
                                               flipCoordinateY: flipY, classes: Set(classes))
        var links: CryoSPARCStackLinks? = nil
        if let folder = mrcsLinks {
            // Checked before the links are made: the conversion must not fail on its options afterwards.
            _ = try CryoSPARCToRelion.starPlanCheck(set, options: options)
            links = try CryoSPARCStackLinks.make(set, stackPrefix: prefix, folder: folder, replace: force)
        }
        let result: CryoSPARCToRelionResult
        do {
            result = try CryoSPARCToRelion.convert(set, options: options, output: output, policy: policy)
        } catch {
            links?.remove()
            throw error
        }
        var warnings = result.warnings
        if let m = missingNote { warnings.append(m) }
        if json {
            var r = result
            r.warnings = warnings
            try printJSON(r)
            return
        }
        for w in warnings { warn(w) }
        if let l = links { print("\(mrcsLinks!): \(l.stacks) stack link\(l.stacks == 1 ? "" : "s") named .mrcs (\(l.created.count) new)") }
        print("\(output): \(result.particles) particles\(result.particles == result.inputParticles ? "" : " of \(result.inputParticles)"), \(result.groups.count) optics group\(result.groups.count == 1 ? "" : "s")\(result.alignments.map { ", angles and origins from \($0)" } ?? "")")
        for g in result.groups {
            var extra: [String] = []
            if let m = g.magMatrix { extra.append("rlnMagMat \(m.map { String(format: "%.6f", $0) }.joined(separator: " "))") }
            if let t = g.beamTilt { extra.append("beam tilt \(t.map { String(format: "%.4f", $0) }.joined(separator: ", ")) mrad") }
            if g.oddZernike != nil { extra.append("odd Zernike") }
            if let e = g.evenZernike { extra.append("even Zernike (Z40 \(String(format: "%.6g", e[6])))") }
            print("  \(g.number)  \(g.name): \(g.optics.count) particles, " +
                  String(format: "%.4f Å, box %d, %.0f kV, Cs %.3f mm, Q0 %.3f", g.optics.pixelSize, g.optics.boxX, g.optics.voltage,
                         g.sphericalAberration, g.optics.amplitudeContrast) + (extra.isEmpty ? "" : "; " + extra.joined(separator: "; ")))
        }
        print("conventions:")
        for a in result.assumptions { print("  \(a)") }
    }
}
