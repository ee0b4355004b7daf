// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix particles`: whole particle sets (STAR file + stacks) brought to another pixel size and
// box, on one machine or as shards on a cluster. Argument parsing and printing only; the work is
// in the Particles module.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixParticles

struct ParticlesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "particles",
        abstract: "Bring a whole particle set to another pixel size and box.",
        discussion: """
        Example:
          angpix particles rescale Extract/job007/particles.star --angpix 1.25 --box 200 -o Rescaled
        """,
        subcommands: [ParticlesRescaleCommand.self]
    )
}

struct ParticlesRescaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescale",
        abstract: "Rescale every stack of a particle STAR file and write a STAR file pointing to the new stacks.",
        discussion: """
        Each referenced stack (N@stack.mrcs) is rescaled as relion_image_handler --rescale_angpix X \
        --new_box N would: the box becomes round(box × pixel size / X), made even, the pixel size \
        reached is box × pixel size / new box, then --box crops or pads around the centre. New stacks \
        go under OUTDIR with the same folder structure; OUTDIR/particles.star has the new \
        rlnImagePixelSize and rlnImageSize in data_optics and rlnImageName pointing to the new stacks \
        (same image numbers). Relative stack paths are read from the current folder (the RELION \
        project folder). A rerun resumes: complete stacks (checked by header, size and checksum \
        against OUT.mrcs.angpix.json) are skipped.

        With --shard I/N only the I-th of N parts of the stacks is done (stacks sorted by path, every \
        N-th from the I-th) and OUTDIR/particles_shardIIIofNNN.star is written; after all shards, \
        --merge OUTDIR writes OUTDIR/particles.star in the input's particle order.

        Example:
          angpix particles rescale Extract/job007/particles.star --angpix 1.25 --box 200 -o Rescaled
          angpix particles rescale run_data.star --angpix 1.0 --group 2 -o Merged --shard 3/10
          angpix particles rescale --merge Merged
        """
    )

    @Argument(help: "The particle STAR file (RELION 3.1, with data_optics).")
    var input: String?

    @Option(name: .customLong("angpix"), help: "The new pixel size (Å).")
    var pixelSize: Double?

    @Option(help: "The final box (pixels, even): crop or pad after rescaling.")
    var box: Int?

    @Option(name: [.customShort("o"), .customLong("out")], help: "The output folder.")
    var output: String?

    @Option(name: .customLong("group"), help: "Rescale only this optics group (number or name; repeatable).")
    var groups: [String] = []

    @Option(help: "Do only part I of N of the stacks (I/N, e.g. 3/10).")
    var shard: String?

    @Option(help: "Merge the shard STAR files of this output folder into particles.star.")
    var merge: String?

    @Option(help: "Threads to use (default: all cores).")
    var jobs: Int?

    @Flag(help: "Redo every stack and overwrite existing outputs.")
    var force = false

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if merge != nil {
            guard input == nil, pixelSize == nil, output == nil, shard == nil, box == nil, groups.isEmpty else {
                throw ValidationError("--merge OUTDIR takes no other input, --angpix, -o, --box, --group or --shard")
            }
            return
        }
        guard input != nil else { throw ValidationError("missing the particle STAR file") }
        guard pixelSize != nil else { throw ValidationError("missing --angpix (the new pixel size in Å)") }
        guard output != nil else { throw ValidationError("missing -o OUTDIR") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let shard, parseShard(shard) == nil {
            throw ValidationError("--shard \(shard): expected I/N with 1 ≤ I ≤ N, e.g. 3/10")
        }
    }

    private func parseShard(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 1, i <= n else { return nil }
        return (i, n)
    }

    func run() throws {
        if let jobs { Parallelism.setJobs(jobs) }
        if let merge {
            let summary = try mergeShards(outputDirectory: merge)
            if json { try printJSON(summary); return }
            print("Merged \(summary.shards) shards: \(summary.particles) particles written to \(summary.starFile)")
            return
        }
        let (shardIndex, shardCount) = shard.flatMap(parseShard) ?? (1, 1)
        let request = ParticleRescaleRequest(
            starPath: input!, settings: RescaleSettings(pixelSize: pixelSize!, box: box, groups: groups),
            outputDirectory: output!, shard: shardIndex, shardCount: shardCount, force: force,
            projectDirectory: FileManager.default.currentDirectoryPath)
        let progress = ProgressLine("rescaling", unit: "particles")
        let summary = try rescaleParticleSet(request, progress: progress.handler)
        progress.finish()
        for g in summary.groups where abs(g.newPixelSize - pixelSize!) > 1e-6 * pixelSize! {
            warn("optics group \(g.opticsGroup): the pixel size reached is \(formatFixed(g.newPixelSize, decimals: 6)) Å, "
                 + "not \(pixelSize!) Å, because the box is rounded to an even number (\(g.oldBox) → \(g.rescaledBox) px)")
        }
        if json { try printJSON(summary); return }
        for g in summary.groups {
            print(String(format: "optics group %d: %d px at %.6f Å -> %d px at %.6f Å", g.opticsGroup, g.oldBox,
                         g.oldPixelSize, g.rescaledBox, g.newPixelSize)
                  + (g.finalBox != g.rescaledBox ? ", box \(g.finalBox)" : ""))
        }
        let s = summary.stacks
        print("stacks: \(s.rescaledStacks) rescaled (\(s.rescaledImages) images), "
              + "\(s.skippedStacks) already complete (\(s.skippedImages) images), \(summary.keptStacks) left as they are")
        print("wrote \(summary.starFile) (\(summary.particles) particles"
              + (summary.shards > 1 ? ", shard \(summary.shard) of \(summary.shards))" : ")"))
    }
}
