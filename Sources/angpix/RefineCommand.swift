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
        """,
        subcommands: [RefineMagnificationCommand.self]
    )
}

/// The inputs every refinement shares.
struct RefineInputOptions: ParsableArguments {
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

    @Option(help: "Ignore frequencies below 1/KMIN (Å), as CtfRefine's --kmin_ctf.")
    var kmin: Double = 20

    @Option(help: "Do only part I of N of the micrographs (I/N, e.g. 3/10) and write its partial sums.")
    var shard: String?

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "Threads to use (default: all cores).")
    var jobs: Int?

    @Flag(help: "Overwrite existing outputs.")
    var force = false

    @Flag(help: "Print the summary as JSON.")
    var json = false

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
        size (nominal / scale), the anisotropy and its axis, with uncertainties. Stack paths are \
        read relative to the current folder (the RELION project folder).

        With --shard I/N only every N-th micrograph from the I-th is read and \
        OUTDIR/refine_shardIIIofNNN.json holds the partial sums; --merge DIR… adds the shards of \
        one run and writes what a single run would have (one pass; see docs/refine.md).

        Example:
          angpix refine magnification Refine3D/job010/run_data.star --postprocess PostProcess/job011/postprocess.star -o Mag
          angpix refine magnification run_data.star --postprocess postprocess.star -o Mag --shard 2/10
          angpix refine magnification --merge Mag -o Mag
        """
    )

    @Argument(help: "The particle STAR file (RELION 3.1, after Refine3D).")
    var input: String?

    @OptionGroup var common: RefineInputOptions

    @Option(name: [.customShort("o"), .customLong("out")], help: "The output folder.")
    var output: String?

    @Option(help: "Passes over the data, the matrix updated after each (one with --shard).")
    var iterations: Int = 2

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
        if !merge.isEmpty {
            guard input == nil, common.shard == nil, common.postprocess == nil, common.half1 == nil else {
                throw ValidationError("--merge DIR… takes no particle file, --shard or reference: the shards recorded them")
            }
            return
        }
        guard input != nil else { throw ValidationError("missing the particle STAR file") }
        guard output != nil else { throw ValidationError("missing -o OUTDIR") }
    }

    func run() throws {
        if let jobs = common.jobs { Parallelism.setJobs(jobs) }
        if !merge.isEmpty {
            let out = try MagnificationRun.merge(directories: merge, outputDirectory: output ?? merge[0],
                                                 minimumParticles: minParticles, force: common.force)
            try report(out)
            return
        }
        var options = MagnificationOptions()
        options.kminAngstrom = common.kmin
        options.keepAstigmatism = keepAstig
        options.minimumParticles = minParticles
        if let shard = common.shard.flatMap(parseShard) {
            options.stream.shard = shard.0
            options.stream.shardCount = shard.1
            options.iterations = 1
        } else {
            options.iterations = iterations
        }
        let progress = ProgressLine("refine magnification", unit: "particles")
        let out = try MagnificationRun.run(input: input!, reference: common.source, outputDirectory: output!,
                                           options: options, force: common.force, progress: progress.handler)
        progress.finish()
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
