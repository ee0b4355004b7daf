// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A refinement run from file names to output files, for the command line: read the inputs, run
// (a shard of) the passes, and write OUTDIR/particles.star and OUTDIR/refine.json (or a shard's
// partial sums), atomically, all computed before anything is written. `--merge` adds the shards'
// sums and writes what a single run would have.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

/// Where the reference comes from.
public struct ReferenceSource: Sendable {
    /// A postprocess.star (its half maps, mask and FSC), or the half maps directly.
    public var postprocess: String?
    public var half1: String?, half2: String?, mask: String?
    /// A STAR file with a data_fsc table (e.g. a postprocess.star) when giving the half maps.
    public var fsc: String?

    public init(postprocess: String? = nil, half1: String? = nil, half2: String? = nil, mask: String? = nil, fsc: String? = nil) {
        self.postprocess = postprocess; self.half1 = half1; self.half2 = half2; self.mask = mask; self.fsc = fsc
    }

    /// The input files (never overwritten).
    public var files: [String] { [postprocess, half1, half2, mask, fsc].compactMap { $0 } }

    /// Reads the half maps and the FSC; the projectors keep what the weights (plus 10 % for
    /// magnification changes) use.
    public func load() throws -> RefineReference {
        var h1 = half1, h2 = half2, m = mask
        var fscValues: [Double]?
        if let postprocess {
            let pp = try PostprocessReference(path: postprocess)
            h1 = h1 ?? pp.half1; h2 = h2 ?? pp.half2; m = m ?? pp.mask
            fscValues = pp.fsc
        }
        if let fsc {
            fscValues = try PostprocessReference.readFSC(document: STARDocument(path: fsc), path: fsc)
            if fscValues == nil { throw RefineError.badPostprocess(path: fsc, reason: "no data_fsc table") }
        }
        guard let h1, let h2 else { throw RefineError.invalidOption("give --postprocess postprocess.star, or --half1 and --half2") }
        return try RefineReference(half1: h1, half2: h2, mask: m, fsc: fscValues) { fsc, box, pixel in
            1.1 * RefineReference.cutoffFrequency(fsc, box: box, pixelSize: pixel) + 2 / (Double(box) * pixel)
        }
    }
}

/// What `refine magnification` writes.
public struct MagnificationRunOutput: Sendable {
    public var summary: MagnificationSummary
    /// Files written.
    public var files: [String]
    /// Shard runs: the partial-sums file instead of results.
    public var shardFile: String?
}

/// `angpix refine magnification`: one machine, a shard, or the merge of shards.
public enum MagnificationRun {
    /// Runs on `input` (or its shard) and writes into `outputDirectory`.
    public static func run(input: String, reference source: ReferenceSource, outputDirectory: String,
                           options: MagnificationOptions, force: Bool,
                           progress: ProgressHandler? = nil) throws -> MagnificationRunOutput {
        let policy = OutputPolicy(overwrite: force, inputs: [input] + source.files)
        let isShard = options.stream.shardCount > 1
        let starOut = (outputDirectory as NSString).appendingPathComponent("particles.star")
        let jsonOut = (outputDirectory as NSString).appendingPathComponent("refine.json")
        let shardOut = (outputDirectory as NSString).appendingPathComponent(
            MagnificationShard.fileName(shard: options.stream.shard, count: options.stream.shardCount))
        let svgOut = (outputDirectory as NSString).appendingPathComponent("magnification.svg")
        for path in isShard ? [shardOut] : [starOut, jsonOut, svgOut] { try policy.check(path) }
        let particles = try RefineParticles(path: input)
        if !isShard { for path in displacementPaths(particles, outputDirectory) { try policy.check(path) } }
        let reference = try source.load()
        if isShard {
            guard options.iterations <= 1 else {
                throw RefineError.invalidOption("--shard does one pass: give --iterations 1 (run the shards again on the merged particles.star for another pass)")
            }
            let weights = groupWeights(particles, reference, kminAngstrom: options.kminAngstrom)
            var settings = options.stream
            settings.gradients = true
            settings.weights = weights
            let (sums, summary) = try MagnificationPasses(particles: particles, reference: reference, weights: weights,
                                                          settings: settings, cacheDirectory: nil)
                .run(settings: settings, progress: progress)
            let shard = MagnificationShard(input: input, particleCount: particles.records.count,
                                           shard: options.stream.shard, shardCount: options.stream.shardCount,
                                           kminAngstrom: options.kminAngstrom, keepAstigmatism: options.keepAstigmatism,
                                           sums: sums, summary: summary)
            try makeDirectory(outputDirectory)
            try writeFileAtomically(encodeJSON(shard), to: shardOut, policy: policy)
            let result = MagnificationSummary(input: input, iterations: 1, groups: [], particles: summary.particles,
                                              micrographs: summary.micrographs, seconds: summary.seconds)
            return MagnificationRunOutput(summary: result, files: [shardOut], shardFile: shardOut)
        }
        var options = options
        if options.cacheDirectory == nil {
            // The pass cache next to the output (nothing is created before the results are ready).
            let parent = (outputDirectory as NSString).deletingLastPathComponent
            options.cacheDirectory = [outputDirectory, parent.isEmpty ? "." : parent].first { dir in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) && isDirectory.boolValue
            }
        }
        let passes = try magnificationPasses(particles: particles, reference: reference, options: options, progress: progress)
        let plots = displacementPlots(particles, sums: passes.firstPassSums, minimumParticles: options.minimumParticles)
        try applyMagnification(to: particles, matrices: passes.matrices, keepAstigmatism: options.keepAstigmatism)
        try makeDirectory(outputDirectory)
        let written = try writeResults(particles: particles, summary: passes.summary, displacement: plots,
                                       starOut: starOut, jsonOut: jsonOut, policy: policy)
        return MagnificationRunOutput(summary: passes.summary, files: written, shardFile: nil)
    }

    /// Adds the partial sums found in `directories` (all shards 1…N of one run) and writes
    /// particles.star and refine.json into `outputDirectory`.
    public static func merge(directories: [String], outputDirectory: String, minimumParticles: Int = 20,
                             force: Bool) throws -> MagnificationRunOutput {
        let loaded = try RefineShards.load(MagnificationShard.self, directories: directories, command: "refine magnification")
        let any = loaded[0]
        let input = any.shard.input
        let policy = OutputPolicy(overwrite: force, inputs: [input] + loaded.map(\.path))
        let starOut = (outputDirectory as NSString).appendingPathComponent("particles.star")
        let jsonOut = (outputDirectory as NSString).appendingPathComponent("refine.json")
        for path in [starOut, jsonOut, (outputDirectory as NSString).appendingPathComponent("magnification.svg")] { try policy.check(path) }
        let particles = try RefineParticles(path: input)
        for path in displacementPaths(particles, outputDirectory) { try policy.check(path) }
        guard particles.records.count == any.shard.particleCount else {
            throw RefineError.badShard(path: any.path, reason: "made from \(any.shard.particleCount) particles, \(input) now has \(particles.records.count)")
        }
        var total = MagnificationAccumulator(weights: [:])
        var micrographs = 0, count = 0, seconds = 0.0
        for (_, s) in loaded {
            try total.merge(s.sums)
            micrographs += s.summary.micrographs; count += s.summary.particles; seconds += s.summary.seconds
        }
        let current = particles.optics.groups.map { $0.magMatrix.map(Matrix2x2.init) }
        let (matrices, results) = solveGroups(particles: particles, sums: total, current: current, minimumParticles: minimumParticles)
        let summary = MagnificationSummary(input: input, iterations: 1, groups: results, particles: count,
                                           micrographs: micrographs, seconds: seconds)
        let plots = displacementPlots(particles, sums: total, minimumParticles: minimumParticles)
        try applyMagnification(to: particles, matrices: matrices, keepAstigmatism: any.shard.keepAstigmatism)
        try makeDirectory(outputDirectory)
        let written = try writeResults(particles: particles, summary: summary, displacement: plots,
                                       starOut: starOut, jsonOut: jsonOut, policy: policy)
        return MagnificationRunOutput(summary: summary, files: written, shardFile: nil)
    }

    /// Every group's possible displacement plot in `outputDirectory` (checked before a run).
    static func displacementPaths(_ particles: RefineParticles, _ outputDirectory: String) -> [String] {
        particles.optics.groups.map {
            (outputDirectory as NSString).appendingPathComponent(MagnificationPlots.displacementFileName(opticsGroup: $0.number))
        }
    }

    /// The displacement plots of the first pass (made at the file's matrices, before they are replaced).
    static func displacementPlots(_ particles: RefineParticles, sums: MagnificationAccumulator,
                                  minimumParticles: Int) -> [(file: String, svg: String)] {
        let groups = particles.optics.groups.map { g in
            (number: g.number, name: g.name, previous: g.magMatrix.map(Matrix2x2.init) ?? .identity)
        }
        return MagnificationPlots.displacementPlots(sums, groups: groups, minimumParticles: minimumParticles)
    }

    /// Writes particles.star, refine.json, magnification.svg and the displacement plots; returns the files.
    static func writeResults(particles: RefineParticles, summary: MagnificationSummary, displacement: [(file: String, svg: String)],
                             starOut: String, jsonOut: String, policy: OutputPolicy) throws -> [String] {
        let json = try encodeJSON(summary)
        let dir = (jsonOut as NSString).deletingLastPathComponent
        let plot = MagnificationPlots.distortion(summary)
        let svgOut = (dir as NSString).appendingPathComponent("magnification.svg")
        try particles.file.document.write(to: starOut, policy: policy)
        try writeFileAtomically(json, to: jsonOut, policy: policy)
        try writeFileAtomically(plot, to: svgOut, policy: policy)
        var files = [starOut, jsonOut, svgOut]
        for (name, svg) in displacement {
            let path = (dir as NSString).appendingPathComponent(name)
            try writeFileAtomically(svg, to: path, policy: policy)
            files.append(path)
        }
        return files
    }
}

func makeDirectory(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        throw CoreError.cannotWrite(path: path, reason: error.localizedDescription)
    }
}

/// Pretty, key-sorted JSON (non-finite numbers as strings).
public func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(value)
}
