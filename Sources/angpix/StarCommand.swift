// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix star`: information about STAR files, and RELION's JoinStar, particle subsets by
// micrograph, and the RELION 3.0 -> 3.1 upgrade. The logic lives in the STARFile module.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC

struct StarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "star",
        abstract: "Read, join, subset and upgrade RELION STAR files.",
        discussion: """
        Example:
          angpix star info particles.star
          angpix star join dataset1.star dataset2.star -o joined.star
        """,
        subcommands: [StarInfoCommand.self, StarJoinCommand.self, StarSubsetCommand.self, StarUpgradeCommand.self, StarFromCsCommand.self]
    )
}

// MARK: info

struct StarInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the blocks of a STAR file and, for particle files, the optics groups.",
        discussion: """
        Lists every table with its rows and columns and says what kind of file it is (RELION 3.0, \
        RELION 3.1+ particles, micrographs or movies, RELION tomography files, pipeline, job and \
        postprocess files). For files with an optics table it also lists each optics group's pixel \
        size (Å), image size, voltage (kV), Cs (mm), amplitude contrast and the number of rows that \
        belong to it; an optics column the table lacks is shown as "-" (without \
        rlnAmplitudeContrast RELION uses Q0 = 0). Invalid optics values and rows pointing to a \
        missing optics group are listed as problems; the file is still described.

        Example:
          angpix star info Refine3D/job020/run_data.star
          angpix star info particles.star --json
        """
    )

    @Argument(help: "A STAR file.") var file: String
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let summary = try STARFileSummary(document: try STARDocument(path: file), file: file)
        if json { try printJSON(summary); return }
        print(summary.text)
    }
}

// MARK: join

struct StarJoinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join STAR files like RELION's JoinStar, refusing silent optics merges.",
        discussion: """
        Optics groups are renumbered 1…n in order of first appearance and every row's \
        rlnOpticsGroup is remapped; groups with the same rlnOpticsGroupName and identical optics \
        are joined (as RELION does). Two groups with the same name but different optics are \
        refused (RELION silently keeps the first group's values), unless --rename-conflicts gives \
        the later one a new name. Columns missing from some inputs are dropped with a warning, or \
        kept with --fill LABEL=VALUE.

        Works for particle, micrograph and movie files (RELION 3.0 and 3.1+, and RELION 4/5 \
        tomography particles, whose shared data_general block is kept). In a file with several \
        tables the particle, micrograph or movie table is joined; pipeline, job, postprocess and \
        tilt-series files are refused.

        Example:
          angpix star join dataset1.star dataset2.star -o joined.star --check-duplicates rlnImageName
        """
    )

    @Argument(help: "Two or more STAR files, joined in this order.") var inputs: [String]
    @Option(name: .shortAndLong, help: "The joined STAR file.") var output: String
    @Flag(help: "Give a later optics group whose name is taken by different optics a new unique name.") var renameConflicts = false
    @Option(help: "LABEL=VALUE: keep a column that some inputs lack, with VALUE in their rows (repeatable).") var fill: [String] = []
    @Option(help: "Report duplicated values of this column, e.g. rlnImageName (repeatable).") var checkDuplicates: [String] = []
    @Flag(help: "Overwrite the output if it exists.") var force = false

    func validate() throws {
        if inputs.count < 2 { throw ValidationError("give at least two STAR files to join") }
    }

    func run() throws {
        var fills: [String: String] = [:]
        for f in fill {
            guard let eq = f.firstIndex(of: "="), eq != f.startIndex else {
                throw CoreError.invalidArgument("--fill \(f): expected LABEL=VALUE, e.g. rlnMtfFileName=mtf_k3.star")
            }
            let label = String(f[..<eq])
            fills[label.hasPrefix("_") ? String(label.dropFirst()) : label] = String(f[f.index(after: eq)...])
        }
        let policy = OutputPolicy(overwrite: force, inputs: inputs)
        try policy.check(output)
        var docs: [(document: STARDocument, file: String)] = []
        for path in inputs { docs.append((try STARDocument(path: path), path)) }
        let result = try STARJoin.join(docs, options: STARJoinOptions(
            renameConflicts: renameConflicts, fill: fills,
            checkDuplicates: checkDuplicates.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 }))
        for d in result.droppedColumns {
            warn("dropped column _\(d.label) of data_\(d.table): only in \(d.presentIn.joined(separator: ", ")) (keep it with --fill \(d.label)=VALUE)")
        }
        for f in result.filledColumns {
            warn("column _\(f.label) of data_\(f.table) filled with '\(fills[f.label] ?? "")' for \(f.filledIn.joined(separator: ", "))")
        }
        for b in result.ignoredBlocks { warn("\(b.file): data_\(b.block) is not carried into the joined file") }
        try result.document.write(to: output, policy: policy)
        for g in result.groups {
            var line = "\(g.file): optics group \(g.oldNumber) '\(g.oldName)' -> \(g.newNumber)"
            if g.newName != g.oldName { line += " renamed '\(g.newName)' (same name, different optics)" }
            if g.joined { line += " (joined with the identical group of the same name)" }
            print(line)
        }
        let total = result.rowCounts.reduce(0, +)
        let groupCount = Set(result.groups.map(\.newNumber)).count
        print("wrote \(output): \(total) rows (\(result.rowCounts.map(String.init).joined(separator: " + ")))"
              + (groupCount == 0 ? "" : ", \(groupCount) optics group\(groupCount == 1 ? "" : "s")"))
        for label in checkDuplicates.map({ $0.hasPrefix("_") ? String($0.dropFirst()) : $0 }) {
            let extra = result.duplicateCounts[label] ?? 0
            if extra == 0 { print("no duplicated \(label)"); continue }
            warn("\(extra) row\(extra == 1 ? "" : "s") repeat an earlier \(label):")
            for d in result.duplicates where d.label == label {
                printError("  \(d.value) ×\(d.count) at \(d.places.joined(separator: ", "))")
            }
        }
    }
}

// MARK: subset

struct StarSubsetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subset",
        abstract: "Keep the particles of the micrographs listed in a MotionCorr STAR file.",
        discussion: """
        For Bayesian Polishing of a combined dataset, one MotionCorr job at a time (RELION's \
        "Pixel size issues" page): keeps the particles whose rlnMicrographName is listed in the \
        given corrected_micrographs.star, and reports how many particles and micrographs matched \
        and which listed micrographs have no particles. --only-used-groups keeps only the optics \
        groups of the kept particles, renumbered from 1: Polishing refuses to estimate its \
        parameters for an optics table whose groups differ in pixel size or box (`angpix check` \
        prints the whole plan).

        Example:
          angpix star subset Refine3D/job020/run_data.star --micrographs MotionCorr/job002/corrected_micrographs.star -o polish_set1.star
        """
    )

    @Argument(help: "The particle STAR file.") var input: String
    @Option(help: "A STAR file listing micrographs (rlnMicrographName), e.g. corrected_micrographs.star.") var micrographs: String
    @Option(name: .shortAndLong, help: "The subset STAR file.") var output: String
    @Flag(name: .customLong("only-used-groups"), help: "Keep only the optics groups of the kept particles, renumbered 1…n.") var onlyUsedGroups = false
    @Flag(help: "Overwrite the output if it exists.") var force = false
    @Flag(help: "Print the result as JSON.") var json = false

    struct Report: Encodable {
        var output: String; var totalParticles: Int; var keptParticles: Int
        var listedMicrographs: Int; var matchedMicrographs: Int; var micrographsWithoutParticles: [String]
    }

    func run() throws {
        let policy = OutputPolicy(overwrite: force, inputs: [input, micrographs])
        try policy.check(output)
        let particles = try STARDocument(path: input)
        let list = try STARDocument(path: micrographs)
        let r = try STARSubset.byMicrographs(particles: particles, particlesFile: input, micrographs: list, micrographsFile: micrographs,
                                         onlyUsedOpticsGroups: onlyUsedGroups)
        if r.keptParticles == 0 {
            throw CoreError.invalidArgument("\(input): none of the \(r.totalParticles) particles is on a micrograph listed in \(micrographs); nothing written")
        }
        try r.document.write(to: output, policy: policy)
        if json {
            try printJSON(Report(output: output, totalParticles: r.totalParticles, keptParticles: r.keptParticles,
                                 listedMicrographs: r.listedMicrographs, matchedMicrographs: r.matchedMicrographs,
                                 micrographsWithoutParticles: r.micrographsWithoutParticles))
            return
        }
        print("wrote \(output): \(r.keptParticles) of \(r.totalParticles) particles, from \(r.matchedMicrographs) of the \(r.listedMicrographs) listed micrographs")
        if !r.micrographsWithoutParticles.isEmpty {
            print("\(r.micrographsWithoutParticles.count) listed micrograph\(r.micrographsWithoutParticles.count == 1 ? " has" : "s have") no particles:")
            for m in r.micrographsWithoutParticles.prefix(20) { print("  \(m)") }
            if r.micrographsWithoutParticles.count > 20 { print("  … and \(r.micrographsWithoutParticles.count - 20) more") }
        }
    }
}

// MARK: upgrade

struct StarUpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Convert a RELION 3.0 STAR file to RELION 3.1 (like relion_convert_star).",
        discussion: """
        Builds the optics table from the distinct voltage, Cs, amplitude contrast and pixel size \
        (rlnDetectorPixelSize × 10⁴ / rlnMagnification) combinations, converts rlnOriginX/Y from \
        pixels to Å, and moves the per-particle optics columns to the optics table. Values the \
        file lacks are given with --voltage, --cs, --q0 and --angpix; without them the upgrade \
        stops and names every missing one. Micrograph files get rlnMicrographPixelSize and \
        rlnMicrographOriginalPixelSize, as relion_convert_star writes them.

        Where the particle stacks can be found (paths relative to --project, default the current \
        folder), rlnImageSize and rlnImageDimensionality are read from their MRC headers (RELION \
        leaves them out). An image named N@file is image N of a stack of 2D images, also when the \
        file is named .mrc (RELION wants .mrcs; a warning says so).

        Example:
          angpix star upgrade old_particles.star -o particles_31.star
        """
    )

    @Argument(help: "A RELION 3.0 STAR file (particles or micrographs).") var input: String
    @Option(name: .shortAndLong, help: "The RELION 3.1 STAR file.") var output: String
    @Option(help: "The RELION project folder the stack paths are relative to.") var project: String = "."
    @Option(name: .customLong("voltage"), help: "Voltage in kV, for files without rlnVoltage.") var voltage: Double?
    @Option(name: .customLong("cs"), help: "Cs in mm, for files without rlnSphericalAberration.") var cs: Double?
    @Option(name: .customLong("q0"), help: "Amplitude contrast, for files without rlnAmplitudeContrast.") var q0: Double?
    @Option(name: .customLong("angpix"), help: "Pixel size in Å, for files without rlnMagnification/rlnDetectorPixelSize.") var angpix: Double?
    @Flag(help: "Overwrite the output if it exists.") var force = false

    func run() throws {
        let policy = OutputPolicy(overwrite: force, inputs: [input])
        try policy.check(output)
        let doc = try STARDocument(path: input)
        let project = self.project
        let result = try STARUpgrade.upgrade(doc, file: input, options: STARUpgradeOptions(
            voltage: voltage, sphericalAberration: cs, amplitudeContrast: q0, pixelSize: angpix)) { stack in
            let path = stack.hasPrefix("/") ? stack : (project as NSString).appendingPathComponent(stack)
            guard let header = try? MRCFile.readHeader(path: path), header.nx > 0 else { return nil }
            let isStack = stack.hasSuffix(".mrcs")
            return StackImageInfo(size: header.nx, dimensionality: !isStack && header.nz > 1 ? 3 : 2)
        }
        try result.document.write(to: output, policy: policy)
        print("wrote \(output): \(result.optics.groups.count) optics group\(result.optics.groups.count == 1 ? "" : "s")")
        for g in result.optics.groups {
            print("  \(g.number) \(g.name): \(formatTrimmed(g.imagePixelSize, decimals: 6)) Å/px, \(formatTrimmed(g.voltage, decimals: 6)) kV, Cs \(formatTrimmed(g.sphericalAberration, decimals: 6)) mm, Q0 \(formatTrimmed(g.amplitudeContrast, decimals: 6))"
                  + (result.filledImageSize ? ", box \(g.imageSize), \(g.imageDimensionality)D" : ""))
        }
        for stack in result.mrcStacks {
            warn("\(stack) is referenced as N@\(stack) (image N of a stack) but named .mrc; it is read as a stack of 2D images, and RELION wants such stacks named .mrcs (rename the file and the references)")
        }
        if result.isParticleFile {
            if result.filledImageSize {
                print("rlnImageSize and rlnImageDimensionality read from the stacks' MRC headers")
            } else {
                let missing = result.stacksLookedUp.filter { !$0.found }
                warn("rlnImageSize and rlnImageDimensionality are not in the optics table: stack\(missing.count == 1 ? "" : "s") not found under \(project): \(missing.map { "\($0.stack) (group \($0.group))" }.joined(separator: ", ")). Run again with --project pointing at the RELION project folder.")
            }
        }
    }
}
