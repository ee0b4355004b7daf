// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix refine`: each optics group's magnification, aberrations and defocus from its own
// particles, as RELION 3.1's CtfRefine defines them. Argument parsing and printing only; the work
// is in the Refine module.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixRefine

struct RefineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refine",
        abstract: "Refine each optics group's magnification, aberrations or defocus from its particles (CtfRefine).",
        discussion: """
        Example:
          angpix refine magnification Refine3D/job010/run_data.star --postprocess PostProcess/job011/postprocess.star -o Mag
          angpix refine aberrations run_data.star --postprocess pp.star -o Aberr
          angpix refine defocus Aberr/particles.star --postprocess pp.star -o Defocus
        """,
        subcommands: [RefineMagnificationCommand.self, RefineAberrationsCommand.self, RefineDefocusCommand.self]
    )
}

/// The inputs every refinement shares.
struct RefineInputOptions: ParsableArguments {
    @Argument(help: "The particle STAR file (RELION 3.1, after Refine3D).")
    var input: String?

    @Option(name: [.customShort("o"), .customLong("out")], help: "The output folder.")
    var output: String?

    @Option(help: "A postprocess.star: its half maps (rlnUnfilteredMapHalf1/2), mask and FSC.")
    var postprocess: String?

    @Option(help: "Half map 1 (instead of --postprocess).")
    var half1: String?

    @Option(help: "Half map 2 (instead of --postprocess).")
    var half2: String?

    @Option(help: "The mask for the FSC of the half maps (with --half1/--half2, without --fsc).")
    var mask: String?

    @Option(help: "A STAR file with a data_fsc table (e.g. a postprocess.star) for the weights.")
    var fsc: String?

    @Option(name: .customLong("kmin"), help: "Ignore frequencies below 1/KMIN (Å), as CtfRefine's --kmin_ctf (default: 20; 30 for defocus).")
    var kminGiven: Double?

    /// --kmin, or CtfRefine's default of 20 Å.
    var kmin: Double { kminGiven ?? 20 }

    @Option(help: "Do only part I of N of the micrographs (I/N, e.g. 3/10) and write its partial sums.")
    var shard: String?

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "Threads to use (default: all cores).")
    var jobs: Int?

    @Flag(help: "Overwrite existing outputs.")
    var force = false

    @Flag(help: "Print the summary as JSON.")
    var json = false

    /// What every refine command needs besides the options: a particle file and -o, or --merge
    /// folders alone (the shards recorded the rest).
    func checkFiles(merge: [String]) throws {
        if !merge.isEmpty {
            guard input == nil, shard == nil, postprocess == nil, half1 == nil else {
                throw ValidationError("--merge DIR… takes no particle file, --shard or reference: the shards recorded them")
            }
            return
        }
        guard input != nil else { throw ValidationError("missing the particle STAR file") }
        guard output != nil else { throw ValidationError("missing -o OUTDIR") }
    }

    /// The folder --merge writes into: -o, else the first shard folder.
    func mergeOutput(_ merge: [String]) -> String { output ?? merge[0] }

    /// With --shard, the stream's part of the micrographs.
    func configure(_ stream: inout StreamSettings) {
        if let s = shard.flatMap(parseShard) { stream.shard = s.0; stream.shardCount = s.1 }
    }

    /// Runs a refinement of the particle file into -o with a progress line on stderr.
    func run<T>(_ title: String, _ work: (_ input: String, _ output: String, _ progress: @escaping ProgressHandler) throws -> T) throws -> T {
        let progress = ProgressLine(title, unit: "particles")
        let out = try work(input!, output!, progress.handler)
        progress.finish()
        return out
    }

    func check(merging: Bool) throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard kmin >= 0, kmin.isFinite else { throw ValidationError("--kmin must be a number of Å ≥ 0") }
        if let shard, parseShard(shard) == nil { throw ValidationError("--shard \(shard): expected I/N with 1 ≤ I ≤ N, e.g. 3/10") }
        if merging { return }
        if postprocess == nil && (half1 == nil || half2 == nil) {
            throw ValidationError("give --postprocess postprocess.star, or --half1 and --half2")
        }
        if postprocess != nil && (half1 != nil || half2 != nil) {
            throw ValidationError("give either --postprocess or --half1/--half2, not both")
        }
    }

    var source: ReferenceSource {
        ReferenceSource(postprocess: postprocess, half1: half1, half2: half2, mask: mask, fsc: fsc)
    }
}

func parseShard(_ text: String) -> (Int, Int)? {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 1, i <= n else { return nil }
    return (i, n)
}

struct RefineMagnificationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magnification",
        abstract: "Each optics group's 2×2 magnification matrix relative to the reference (CtfRefine --fit_aniso).",
        discussion: """
        Every particle is compared with the projection of the other half map (rlnRandomSubset), \
        weighted by the FSC (zero below 1/--kmin and from where the FSC falls below 0.143); the \
        per-pixel normal equations give each group's distortion D, and M_new = M_old · (I + D). \
        OUTDIR/particles.star is the input with rlnMagMat00…11 in data_optics (composed with any \
        matrix already there) and each particle's defocus carried into the new coordinates \
        (unless --keep-astig); OUTDIR/refine.json has per group the scale, the implied pixel \
        size (nominal / scale), the anisotropy and its axis, with uncertainties; \
        OUTDIR/magnification.svg draws each group's distortion and \
        OUTDIR/magnification_displacement_groupN.svg the first pass's displacement of the \
        frequencies, per pixel and fitted. Stack paths are read relative to the current folder \
        (the RELION project folder).

        With --shard I/N only every N-th micrograph from the I-th is read and \
        OUTDIR/refine_shardIIIofNNN.json holds the partial sums; --merge DIR… adds the shards of \
        one run and writes what a single run would have (one pass; see docs/refine.md).

        Example:
          angpix refine magnification Refine3D/job010/run_data.star --postprocess PostProcess/job011/postprocess.star -o Mag
          angpix refine magnification run_data.star --postprocess postprocess.star -o Mag --shard 2/10
          angpix refine magnification --merge Mag -o Mag
        """
    )

    @OptionGroup var common: RefineInputOptions

    @Option(help: "Passes over the data at most, the matrix updated after each; they stop when a pass changes the matrices by less than a fifth of their standard error (one with --shard).")
    var iterations: Int = 8

    @Flag(name: .customLong("keep-astig"), help: "Keep each particle's defocus and astigmatism as they are.")
    var keepAstig = false

    @Option(name: .customLong("min-particles"), help: "Groups with fewer particles keep their matrix.")
    var minParticles: Int = 20

    @Option(parsing: .upToNextOption, help: "Add the partial sums of these shard folders and solve.")
    var merge: [String] = []

    func validate() throws {
        try common.check(merging: !merge.isEmpty)
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard minParticles >= 1 else { throw ValidationError("--min-particles must be at least 1") }
        try common.checkFiles(merge: merge)
    }

    func run() throws {
        if let jobs = common.jobs { Parallelism.setJobs(jobs) }
        if !merge.isEmpty {
            let out = try MagnificationRun.merge(directories: merge, outputDirectory: common.mergeOutput(merge),
                                                 minimumParticles: minParticles, force: common.force)
            try report(out)
            return
        }
        var options = MagnificationOptions()
        options.kminAngstrom = common.kmin
        options.keepAstigmatism = keepAstig
        options.minimumParticles = minParticles
        common.configure(&options.stream)
        options.iterations = options.stream.shardCount > 1 ? 1 : iterations
        let out = try common.run("refine magnification") { input, output, progress in
            try MagnificationRun.run(input: input, reference: common.source, outputDirectory: output, options: options,
                       force: common.force, progress: progress)
        }
        try report(out)
    }

    func report(_ out: MagnificationRunOutput) throws {
        if common.json { try printJSON(out.summary); return }
        if let shardFile = out.shardFile {
            print("\(out.summary.particles) particles of \(out.summary.micrographs) micrographs: partial sums in \(shardFile)")
            return
        }
        for g in out.summary.groups {
            if let kept = g.kept { warn("optics group \(g.opticsGroup) (\(g.name)): \(kept)") }
            let halves = g.impliedPixelSizeHalfSetError.map { ", ± \(formatFixed($0, decimals: 5)) between half sets" } ?? ""
            print("optics group \(g.opticsGroup) (\(g.name)), \(g.particles) particles: pixel size \(formatFixed(g.impliedPixelSize, decimals: 5)) Å"
                  + " ± \(formatFixed(g.impliedPixelSizeError, decimals: 5))\(halves)"
                  + " (nominal \(formatFixed(g.nominalPixelSize, decimals: 5)) / scale \(formatFixed(g.scale, decimals: 5))),"
                  + " anisotropy \(formatFixed(g.anisotropyPercent, decimals: 3)) % ± \(formatFixed(g.anisotropyErrorPercent, decimals: 3))"
                  + " at \(formatFixed(g.anisotropyAxisDegrees, decimals: 1))° ± \(formatFixed(g.anisotropyAxisErrorDegrees, decimals: 1))°")
        }
        print("wrote \(out.files.joined(separator: ", ")) (\(out.summary.particles) particles, \(out.summary.micrographs) micrographs, "
              + "\(formatFixed(out.summary.seconds, decimals: 1)) s)")
    }
}

struct RefineAberrationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aberrations",
        abstract: "Each optics group's symmetric and antisymmetric aberrations and beam tilt (CtfRefine --fit_aberr, --fit_beamtilt).",
        discussion: """
        Every particle is compared with the projection of the other half map (rlnRandomSubset), \
        weighted by the FSC (zero below 1/--kmin and from where the FSC falls below 0.143). One \
        pass sums, per optics group, the per-pixel phase errors of the symmetric (even) and \
        antisymmetric (odd) aberrations; the Zernike fits are added to the group's rlnEvenZernike \
        (Z40 at index 6) and odd terms, and the beam tilt is taken out of the odd terms as RELION \
        3.1 does (rlnBeamTiltX/Y in mrad). OUTDIR/particles.star is the input with the new optics; \
        OUTDIR/refine.json has per group the coefficients with standard errors and half-set \
        spreads; OUTDIR/aberrations_groupN.svg shows the per-pixel phases and the fitted surfaces.

        Z40 with a trusted Cs gives the absolute pixel size: angpix calibrate zernike \
        OUTDIR/particles.star --cs-true 2.7. Refine the defocus afterwards (angpix refine \
        defocus), as the defocus had absorbed part of a pixel-size error.

        With --shard I/N only every N-th micrograph from the I-th is read and \
        OUTDIR/refine_shardIIIofNNN.json holds the partial sums; --merge DIR… adds the shards of \
        one run and writes what a single run would have.

        Example:
          angpix refine aberrations run_data.star --postprocess pp.star -o Aberr
          angpix calibrate zernike Aberr/particles.star --cs-true 2.7
          angpix refine aberrations run_data.star --postprocess pp.star \\
              -o Aberr --shard 2/10
          angpix refine aberrations --merge Aberr -o Aberr
        """
    )

    @OptionGroup var common: RefineInputOptions

    @Option(help: "Passes over the data at most, each predicting with the previous pass's terms; they stop when no coefficient moves by more than a fifth of its standard error (one with --shard).")
    var iterations: Int = 4

    @Option(name: .customLong("even-order"), help: "Radial order of the even Zernike fit: 4 (9 terms) or 6 (16).")
    var evenOrder: Int = 4

    @Option(name: .customLong("odd-order"), help: "Radial order of the odd Zernike fit: 3 (6 terms) or 5 (12).")
    var oddOrder: Int = 3

    @Flag(name: .customLong("no-even"), help: "Do not fit the even (symmetric) aberrations.")
    var noEven = false

    @Flag(name: .customLong("no-ctf-pad"), help: "Apply the CTF on the box's own grid (RELION's CtfRefine without --ctf_pad) instead of on a field twice the box, boxed as extraction does.")
    var noCtfPad = false

    @Flag(name: .customLong("no-odd"), help: "Do not fit the odd aberrations and the beam tilt.")
    var noOdd = false

    @Option(name: .customLong("min-particles"), help: "Groups with fewer particles keep their aberrations.")
    var minParticles: Int = 20

    @Option(parsing: .upToNextOption, help: "Add the partial sums of these shard folders and solve.")
    var merge: [String] = []

    func validate() throws {
        try common.check(merging: !merge.isEmpty)
        guard evenOrder == 4 || evenOrder == 6 else { throw ValidationError("--even-order must be 4 or 6") }
        guard oddOrder == 3 || oddOrder == 5 else { throw ValidationError("--odd-order must be 3 or 5") }
        guard !(noEven && noOdd) else { throw ValidationError("--no-even and --no-odd together leave nothing to fit") }
        guard minParticles >= 1 else { throw ValidationError("--min-particles must be at least 1") }
        try common.checkFiles(merge: merge)
    }

    func run() throws {
        if let jobs = common.jobs { Parallelism.setJobs(jobs) }
        if !merge.isEmpty {
            let out = try AberrationRun.merge(directories: merge, outputDirectory: common.mergeOutput(merge),
                                              minimumParticles: minParticles, force: common.force)
            try report(out)
            return
        }
        var options = AberrationOptions()
        options.kminAngstrom = common.kmin
        options.evenOrder = evenOrder
        options.oddOrder = oddOrder
        options.fitEven = !noEven
        options.fitOdd = !noOdd
        options.minimumParticles = minParticles
        common.configure(&options.stream)
        options.stream.boxedCTF = !noCtfPad
        options.iterations = iterations
        let out = try common.run("refine aberrations") { input, output, progress in
            try AberrationRun.run(input: input, reference: common.source, outputDirectory: output, options: options,
                       force: common.force, progress: progress)
        }
        try report(out)
    }

    func report(_ out: AberrationRunOutput) throws {
        if common.json { try printJSON(out.summary); return }
        if let shardFile = out.shardFile {
            print("\(out.summary.particles) particles of \(out.summary.micrographs) micrographs: partial sums in \(shardFile)")
            return
        }
        for g in out.summary.groups {
            for k in g.kept { warn("optics group \(g.opticsGroup) (\(g.name)): \(k)") }
            var parts: [String] = []
            if let e = g.even {
                var text = "Z40 \(formatFixed(e.z40, decimals: 3)) ± \(formatFixed(e.z40Error, decimals: 3))"
                if let h = e.z40HalfSetSpread { text += " (± \(formatFixed(h, decimals: 3)) between halves)" }
                text += e.z40Significant ? ", apparent Cs \(formatFixed(e.apparentCs, decimals: 3)) mm"
                    : " (unreliable: |Z40| < 3 σ, the data do not determine it)"
                parts.append(text)
            }
            if let o = g.odd, let tx = o.beamTiltX, let ty = o.beamTiltY {
                var text = "beam tilt X \(formatFixed(tx, decimals: 3)) ± \(formatFixed(o.beamTiltXError ?? .nan, decimals: 3)),"
                    + " Y \(formatFixed(ty, decimals: 3)) ± \(formatFixed(o.beamTiltYError ?? .nan, decimals: 3)) mrad"
                if let sx = o.beamTiltXHalfSetSpread, let sy = o.beamTiltYHalfSetSpread {
                    text += " (± \(formatFixed(sx, decimals: 3)), \(formatFixed(sy, decimals: 3)) between halves)"
                }
                if !o.beamTiltSignificant { text += " (not distinguishable from zero: < 3 σ)" }
                parts.append(text)
            } else if g.odd != nil {
                parts.append("odd terms fitted (Cs is 0: no beam tilt)")
            }
            if !parts.isEmpty {
                print("optics group \(g.opticsGroup) (\(g.name)), \(g.particles) particles: " + parts.joined(separator: "; "))
            }
        }
        print("wrote \(out.files.joined(separator: ", ")) (\(out.summary.particles) particles, \(out.summary.micrographs) micrographs, "
              + "\(formatFixed(out.summary.seconds, decimals: 1)) s)")
    }
}

struct RefineDefocusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defocus",
        abstract: "Each particle's defocus, with each micrograph's astigmatism (CtfRefine --fit_defocus).",
        discussion: """
        Micrograph by micrograph, each particle is compared with the projection of the other half \
        map (rlnRandomSubset), weighted by the FSC (zero below 1/--kmin and from where the FSC \
        falls below 0.143): a search over ± --range Å, then a joint fit of every particle's \
        defocus and the micrograph's astigmatism (RELION 3.1's default mode). The group's current \
        aberrations (rlnEvenZernike, rlnOddZernike, rlnBeamTiltX/Y) and magnification are used. \
        OUTDIR/particles.star is the input with the new rlnDefocusU/V/Angle; OUTDIR/refine.json \
        has the RMS change per optics group and each micrograph's astigmatism.

        Run it after refine aberrations: a defocus that had absorbed part of a pixel-size error \
        comes back once the Cs error is in Z40.

        With --shard I/N only every N-th micrograph from the I-th is refined and \
        OUTDIR/refine_shardIIIofNNN.json holds its particles' results; --merge DIR… puts the shards \
        of one run together.

        Example:
          angpix refine defocus Aberr/particles.star --postprocess pp.star -o Defocus
          angpix refine defocus run_data.star --postprocess pp.star -o Defocus \\
              --shard 2/10
          angpix refine defocus --merge Defocus -o Defocus
        """
    )

    @OptionGroup var common: RefineInputOptions

    @Option(help: "Search the defocus over ± RANGE Å around each particle's.")
    var range: Double = 2000

    @Flag(name: .customLong("per-particle-astig"), help: "Fit each particle's astigmatism (default: one per micrograph).")
    var perParticleAstig = false

    @Flag(name: .customLong("keep-astig"), help: "Keep each particle's astigmatism; refine only the mean defocus.")
    var keepAstig = false

    @Flag(name: .customLong("no-ctf-pad"), help: "Apply the CTF on the box's own grid (RELION's CtfRefine without --ctf_pad) instead of on a field twice the box, boxed as extraction does.")
    var noCtfPad = false

    @Option(parsing: .upToNextOption, help: "Put together the results of these shard folders.")
    var merge: [String] = []

    func validate() throws {
        try common.check(merging: !merge.isEmpty)
        guard range > 0, range.isFinite else { throw ValidationError("--range must be a positive number of Å") }
        guard !(perParticleAstig && keepAstig) else { throw ValidationError("give --per-particle-astig or --keep-astig, not both") }
        try common.checkFiles(merge: merge)
    }

    func run() throws {
        if let jobs = common.jobs { Parallelism.setJobs(jobs) }
        if !merge.isEmpty {
            let out = try DefocusRun.merge(directories: merge, outputDirectory: common.mergeOutput(merge), force: common.force)
            try report(out)
            return
        }
        var options = DefocusOptions()
        options.kminAngstrom = common.kminGiven ?? 30
        options.searchRange = range
        options.astigmatism = perParticleAstig ? .perParticle : keepAstig ? .keep : .perMicrograph
        common.configure(&options.stream)
        options.stream.boxedCTF = !noCtfPad
        let out = try common.run("refine defocus") { input, output, progress in
            try DefocusRun.run(input: input, reference: common.source, outputDirectory: output, options: options,
                       force: common.force, progress: progress)
        }
        try report(out)
    }

    func report(_ out: DefocusRunOutput) throws {
        if common.json { try printJSON(out.summary); return }
        if let shardFile = out.shardFile {
            print("\(out.summary.particles) particles of \(out.summary.micrographs.count) micrographs: results in \(shardFile)")
            return
        }
        for g in out.summary.groups where g.particles > 0 {
            print("optics group \(g.opticsGroup) (\(g.name)), \(g.particles) particles: defocus change RMS \(formatFixed(g.rmsChange, decimals: 1)) Å,"
                  + " mean \(formatFixed(g.meanChange, decimals: 1)) Å; median error \(formatFixed(g.medianError, decimals: 1)) Å")
        }
        print("wrote \(out.files.joined(separator: ", ")) (\(out.summary.particles) particles, \(out.summary.micrographs.count) micrographs, "
              + "RMS change \(formatFixed(out.summary.rmsChange, decimals: 1)) Å, \(formatFixed(out.summary.seconds, decimals: 1)) s)")
    }
}
