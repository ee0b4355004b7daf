// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix map rescale IN -o OUT [--angpix X] [--box N]`: what relion_image_handler --i IN --o OUT
// --rescale_angpix X --new_box N does, for a map or a stack (algorithm: Fourier/Rescale.swift).
// Stacks are streamed: images are read from the memory-mapped input in batches, rescaled on all
// cores and appended to the atomic output, so memory stays bounded whatever the stack's size.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC
import AngpixFourier

struct MapRescaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescale",
        abstract: "Bring a map or a particle stack to another pixel size and box, as RELION does.",
        discussion: """
        Same result as `relion_image_handler --i IN --o OUT --rescale_angpix X --new_box N` (RELION \
        3.1): the new box is ROUND(old box × old pixel size / X) made even, the pixel size reached \
        (old pixel size × old box / new box) is written to the header and printed; the resampling \
        crops or pads the Fourier transform and keeps the mean. --box then crops or pads in real \
        space around the centre. A .mrcs file (or an MRC file with ISPG 0 and MZ ≠ NZ) is treated \
        as a stack of 2D images, each rescaled on its own, and keeps its z voxel size as RELION \
        does; anything else as one map or image. For a header without a pixel size (CELLA 0), \
        give the input's with --input-angpix.

        Example:
          angpix map rescale run_class001.mrc --angpix 1.2 --box 200 -o class001_12A.mrc
          angpix map rescale particles.mrcs --angpix 1.5 -o particles_15.mrcs
        """
    )

    @Argument(help: "The MRC map (.mrc) or stack (.mrcs) to read.")
    var input: String

    @Option(name: [.short, .customLong("output")], help: "The MRC file to write.")
    var output: String

    @Option(help: "The new pixel size (Å); the reached one may differ slightly (even box).")
    var angpix: Double?

    @Option(help: "The final box (pixels, even): crop or pad in real space after rescaling.")
    var box: Int?

    @Option(name: .customLong("input-angpix"), help: "The input's pixel size (Å), for a header without one (CELLA 0).")
    var inputAngpix: Double?

    @Flag(help: "Print a JSON summary instead of text.")
    var json = false

    @Option(help: "Threads to use (default: all cores).")
    var jobs: Int?

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    struct Summary: Encodable {
        var input: String, output: String
        var kind: String
        var images: Int
        var inputShape: [Int], outputShape: [Int]
        var inputPixelSize: Double
        var requestedPixelSize: Double?
        var outputPixelSize: Double
        var seconds: Double
    }

    func run() throws {
        if let jobs { Parallelism.setJobs(jobs) }
        guard angpix != nil || box != nil else {
            throw ValidationError("give --angpix, --box or both")
        }
        if let angpix, !(angpix > 0 && angpix.isFinite) {
            throw CoreError.invalidArgument("\(input): the new pixel size --angpix \(angpix) Å is not positive")
        }
        let start = Date()
        let f = try MRCMappedFile(path: input)
        let h = f.header
        if let inputAngpix, !(inputAngpix > 0 && inputAngpix.isFinite) {
            throw CoreError.invalidArgument("\(input): --input-angpix \(inputAngpix) Å is not positive")
        }
        let inputPixelSize = inputAngpix ?? h.pixelSize
        if inputAngpix == nil && h.cellIsZero {
            throw MRCError.unknownPixelSize(path: input, operation: "map rescale", remedy: "give it with --input-angpix")
        }
        guard inputPixelSize > 0, inputPixelSize.isFinite else {
            throw CoreError.invalidArgument("\(input): the header's pixel size \(h.pixelSize) Å is not positive (give it with --input-angpix, or fix the header with `angpix map set-pixel-size`)")
        }
        // One rule for stacks and volumes (AngpixMRC.MRCLayout): .mrcs, or ISPG 0 with MZ ≠ NZ.
        let isStack = MRCLayout.of(header: h, path: input).isImageStack
        // Along x, y, z: a volume with a permuted axis order is read permuted by MRCFile.readMap.
        let size = isStack ? MRCTriple(h.nx, h.ny, h.nz) : h.mapSize
        let shape = isStack || size.z == 1 ? [size.y, size.x] : [size.z, size.y, size.x]
        let plan: RescalePlan
        do {
            plan = try RescalePlan(shape: shape, pixelSize: inputPixelSize, newPixelSize: angpix, box: box)
        } catch let e as RescaleError {
            throw CoreError.invalidArgument("\(input): \(e)")
        }
        let policy = OutputPolicy(overwrite: force, inputs: [input])
        try policy.check(output)
        let count = isStack ? h.nz : 1
        if isStack {
            let reader = try MRCStackReader(path: input)
            let writer = try MRCStackWriter(path: output, nx: plan.outputShape[1], ny: plan.outputShape[0],
                                            pixelSize: plan.outputPixelSize, policy: policy,
                                            options: MRCWriteOptions(labels: ["angpix map rescale"]))
            // As relion_image_handler: the stack's z voxel size stays the input's (MZ 1).
            let z = h.voxelSize.z
            writer.zVoxelSize = z > 0 && z.isFinite ? z : inputPixelSize
            let progress = ProgressLine("rescaling \((input as NSString).lastPathComponent)", unit: "images")
            try rescaleStack(plan: plan, count: count, read: { range, buffer in
                try reader.readImages(range, into: buffer)
                reader.release(range)
            }, write: { try writer.append($0) }, progress: progress.handler)
            progress.finish()
            try writer.commit()
        } else {
            let map = try MRCFile.readMap(path: input)
            let rescaler = try Rescaler(plan: plan, threads: Parallelism.jobs)
            var out = MRCMap(nx: plan.outputShape.last!, ny: plan.outputShape[plan.outputShape.count - 2],
                             nz: plan.outputShape.count == 3 ? plan.outputShape[0] : 1,
                             pixelSize: plan.outputPixelSize, data: rescaler.apply(map.data))
            out.origin = MRCTriple(0, 0, 0)
            try MRCFile.write(out, to: output, policy: policy, options: MRCWriteOptions(labels: ["angpix map rescale"]))
        }
        let seconds = Date().timeIntervalSince(start)
        let summary = Summary(input: input, output: output, kind: isStack ? "stack" : (shape.count == 3 ? "volume" : "image"),
                              images: count, inputShape: shape.reversed(), outputShape: plan.outputShape.reversed(),
                              inputPixelSize: inputPixelSize, requestedPixelSize: angpix,
                              outputPixelSize: plan.outputPixelSize, seconds: seconds)
        if let angpix, abs(plan.outputPixelSize - angpix) / angpix > 0.001 {
            warn("the pixel size requested is \(formatSignificant(angpix)) Å, the one reached is \(formatSignificant(plan.outputPixelSize)) Å (the box must be even); the header says \(formatSignificant(plan.outputPixelSize)) Å")
        }
        if json {
            try printJSON(summary)
        } else {
            let dims = { (s: [Int]) in s.reversed().map(String.init).joined(separator: " × ") }
            let what = isStack ? "\(count) images of " : ""
            print("\(output): \(what)\(dims(plan.outputShape)) at \(formatSignificant(plan.outputPixelSize)) Å/pixel (from \(dims(shape)) at \(formatSignificant(inputPixelSize)) Å)")
        }
    }
}
