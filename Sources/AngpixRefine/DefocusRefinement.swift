// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `refine defocus` from the inputs to the outputs: the particles streamed micrograph by micrograph
// (or one shard of the micrographs), each micrograph refined on its own by DefocusEstimator
// (per-particle defocus, per-micrograph astigmatism: RELION 3.1's default mode; or astigmatism
// per particle, or kept), the new rlnDefocusU/V/Angle written per particle and refine.json with
// the changes. The results are per particle, not additive sums: a shard writes its particles'
// results, and `--merge` concatenates the shards (checking that every particle is there once).

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

/// How the astigmatism is treated.
public enum AstigmatismMode: String, Codable, Sendable {
    /// One astigmatism per micrograph, shared by its particles (RELION's default).
    case perMicrograph
    /// Each particle its own astigmatism (each particle refined alone).
    case perParticle
    /// Each particle keeps its astigmatism; only the mean defocus moves.
    case keep
}

/// The options of a defocus refinement.
public struct DefocusOptions: Sendable {
    /// Weights start at 1/kmin (Å) (CtfRefine's default for defocus is 30 Å).
    public var kminAngstrom: Double = 30
    /// The 1-D search range ± (Å).
    public var searchRange: Double = 2000
    public var astigmatism: AstigmatismMode = .perMicrograph
    public var stream = StreamSettings()

    public init() {}
}

/// The refined micrographs of a run or shard (concatenated by merge).
public struct DefocusAccumulator: ObservationAccumulator, Codable {
    public var micrographs: [MicrographDefocus] = []
    let weights: [Int: FrequencyWeights]
    let searchRange: Double
    let astigmatism: AstigmatismMode

    public init(weights: [Int: FrequencyWeights], searchRange: Double = 2000, astigmatism: AstigmatismMode = .perMicrograph) {
        self.weights = weights; self.searchRange = searchRange; self.astigmatism = astigmatism
    }

    enum CodingKeys: String, CodingKey { case micrographs }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        micrographs = try c.decode([MicrographDefocus].self, forKey: .micrographs)
        weights = [:]; searchRange = 2000; astigmatism = .perMicrograph
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(micrographs, forKey: .micrographs)
    }

    public mutating func add(micrograph: String, observations: [ParticleObservation]) throws {
        guard !observations.isEmpty else { return }
        do {
            switch astigmatism {
            case .perMicrograph, .keep:
                micrographs.append(try DefocusEstimator.refine(observations, weights: weights, searchRange: searchRange,
                                                               fitAstigmatism: astigmatism == .perMicrograph))
            case .perParticle:
                var particles: [ParticleDefocus] = []
                for o in observations {
                    particles += try DefocusEstimator.refine([o], weights: weights, searchRange: searchRange, fitAstigmatism: true).particles
                }
                micrographs.append(MicrographDefocus(micrographName: micrograph, particles: particles,
                                                     astigmatism: .nan, astigmatismAngle: .nan, amplitudeScale: .nan))
            }
        } catch {
            throw RefineError.invalidOption("micrograph \(micrograph): \(error)")
        }
    }

    public mutating func merge(_ other: DefocusAccumulator) throws { micrographs += other.micrographs }
}

/// One optics group's defocus changes.
public struct DefocusGroupResult: Codable, Sendable, Equatable {
    public var opticsGroup: Int
    public var name: String
    public var particles: Int
    /// RMS and mean of the change of the mean defocus (Å).
    public var rmsChange: Double
    public var meanChange: Double
    /// The median standard error of a particle's defocus (Å).
    public var medianError: Double
}

/// The summary of a run (OUTDIR/refine.json).
public struct DefocusSummary: Codable, Sendable, Equatable {
    public var command = "refine defocus"
    public var input: String
    public var kminAngstrom: Double
    public var searchRange: Double
    public var astigmatism: AstigmatismMode
    /// Over all particles: RMS and mean change of the mean defocus (Å).
    public var rmsChange: Double
    public var meanChange: Double
    public var groups: [DefocusGroupResult]
    /// Per micrograph: its astigmatism ΔfU − ΔfV (Å) and angle (°) (NaN when per particle), amplitude.
    public var micrographs: [DefocusMicrographResult]
    public var particles: Int
    public var seconds: Double
}

/// One micrograph's shared results.
public struct DefocusMicrographResult: Codable, Sendable, Equatable {
    public var name: String
    public var particles: Int
    public var astigmatism: Double
    public var astigmatismAngle: Double
    public var rmsChange: Double
}

/// A shard's results (OUTDIR/refine_shardIIIofNNN.json).
public struct DefocusShard: Codable, Sendable, RefineShardFile {
    public var kind = "angpix refine defocus partial results"
    public var input: String
    public var particleCount: Int
    public var shard: Int, shardCount: Int
    public var kminAngstrom: Double
    public var searchRange: Double
    public var astigmatism: AstigmatismMode
    public var results: DefocusAccumulator
    public var summary: StreamSummary

    public var runKey: String { "kmin \(kminAngstrom) Å, range \(searchRange) Å, astigmatism \(astigmatism.rawValue)" }
}

/// What `refine defocus` writes.
public struct DefocusRunOutput: Sendable {
    public var summary: DefocusSummary
    public var files: [String]
    public var shardFile: String?
}

/// `angpix refine defocus`: one machine, a shard, or the merge of shards.
public enum DefocusRun {
    /// Refines the defocus of `particles` (or the settings' shard).
    public static func refine(particles: RefineParticles, reference: RefineReference, options: DefocusOptions,
                              progress: ProgressHandler? = nil) throws -> (DefocusAccumulator, StreamSummary) {
        let weights = groupWeights(particles, reference, kminAngstrom: options.kminAngstrom)
        var settings = options.stream
        settings.gradients = false
        settings.weights = weights
        settings.oddZernike = particles.optics.groups.map(currentOddZernike)
        let range = options.searchRange, mode = options.astigmatism
        return try streamObservations(particles: particles, reference: reference, settings: settings,
                                      make: { DefocusAccumulator(weights: weights, searchRange: range, astigmatism: mode) },
                                      progress: progress)
    }

    /// Runs on `input` (or its shard) and writes into `outputDirectory`.
    public static func run(input: String, reference source: ReferenceSource, outputDirectory: String,
                           options: DefocusOptions, force: Bool, progress: ProgressHandler? = nil) throws -> DefocusRunOutput {
        guard options.searchRange > 0, options.searchRange.isFinite else { throw RefineError.invalidOption("--range must be a positive number of Å") }
        let policy = OutputPolicy(overwrite: force, inputs: [input] + source.files)
        let isShard = options.stream.shardCount > 1
        let shardOut = (outputDirectory as NSString).appendingPathComponent(
            RefineShards.fileName(shard: options.stream.shard, count: options.stream.shardCount))
        let (starOut, jsonOut) = AberrationRun.outputPaths(outputDirectory)
        for path in isShard ? [shardOut] : [starOut, jsonOut] { try policy.check(path) }
        let particles = try RefineParticles(path: input)
        let reference = try source.load()
        let (results, streamed) = try refine(particles: particles, reference: reference, options: options, progress: progress)
        if isShard {
            let shard = DefocusShard(input: input, particleCount: particles.records.count, shard: options.stream.shard,
                                     shardCount: options.stream.shardCount, kminAngstrom: options.kminAngstrom,
                                     searchRange: options.searchRange, astigmatism: options.astigmatism,
                                     results: results, summary: streamed)
            try RefineShards.makeDirectory(outputDirectory)
            try writeFileAtomically(encodeJSON(shard), to: shardOut, policy: policy)
            let summary = summarise(particles: particles, results: results, options: options, streamed: streamed)
            return DefocusRunOutput(summary: summary, files: [shardOut], shardFile: shardOut)
        }
        return try finish(particles: particles, results: results, streamed: streamed, options: options,
                          starOut: starOut, jsonOut: jsonOut, outputDirectory: outputDirectory, policy: policy, requireAll: false)
    }

    /// Concatenates the shards found in `directories` (all 1…N of one run) and writes what a single
    /// run would have.
    public static func merge(directories: [String], outputDirectory: String, force: Bool) throws -> DefocusRunOutput {
        let shards = try RefineShards.load(DefocusShard.self, directories: directories, command: "refine defocus")
        let first = shards[0]
        let input = first.shard.input
        let policy = OutputPolicy(overwrite: force, inputs: [input] + shards.map(\.path))
        let (starOut, jsonOut) = AberrationRun.outputPaths(outputDirectory)
        for path in [starOut, jsonOut] { try policy.check(path) }
        let particles = try RefineParticles(path: input)
        guard particles.records.count == first.shard.particleCount else {
            throw RefineError.badShard(path: first.path, reason: "made from \(first.shard.particleCount) particles, \(input) now has \(particles.records.count)")
        }
        var total = DefocusAccumulator(weights: [:])
        var streamed = StreamSummary(micrographs: 0, particles: 0, seconds: 0)
        var seen: [Int: String] = [:]
        for (path, s) in shards {
            for m in s.results.micrographs {
                for p in m.particles {
                    guard p.row >= 0, p.row < particles.records.count else {
                        throw RefineError.badShard(path: path, reason: "particle row \(p.row + 1) is not in \(input)")
                    }
                    if let other = seen[p.row] { throw RefineError.badShard(path: path, reason: "particle \(p.row + 1) is also in \(other)") }
                    seen[p.row] = path
                }
            }
            try total.merge(s.results)
            streamed.micrographs += s.summary.micrographs; streamed.particles += s.summary.particles; streamed.seconds += s.summary.seconds
        }
        var options = DefocusOptions()
        options.kminAngstrom = first.shard.kminAngstrom
        options.searchRange = first.shard.searchRange
        options.astigmatism = first.shard.astigmatism
        return try finish(particles: particles, results: total, streamed: streamed, options: options,
                          starOut: starOut, jsonOut: jsonOut, outputDirectory: outputDirectory, policy: policy, requireAll: true)
    }

    static func summarise(particles: RefineParticles, results: DefocusAccumulator, options: DefocusOptions,
                          streamed: StreamSummary) -> DefocusSummary {
        let mics = results.micrographs.sorted { $0.micrographName < $1.micrographName }
        var byGroup: [Int: [ParticleDefocus]] = [:]
        var all: [ParticleDefocus] = []
        var micResults: [DefocusMicrographResult] = []
        for m in mics {
            for p in m.particles { byGroup[particles.records[p.row].groupIndex, default: []].append(p) }
            all += m.particles
            micResults.append(DefocusMicrographResult(name: m.micrographName, particles: m.particles.count, astigmatism: m.astigmatism,
                                                      astigmatismAngle: m.astigmatismAngle, rmsChange: rms(m.particles.map(\.change))))
        }
        var groups: [DefocusGroupResult] = []
        for (gi, g) in particles.optics.groups.enumerated() {
            let ps = byGroup[gi] ?? []
            let errors = ps.map(\.defocusError).sorted()
            groups.append(DefocusGroupResult(opticsGroup: g.number, name: g.name, particles: ps.count,
                                             rmsChange: rms(ps.map(\.change)), meanChange: mean(ps.map(\.change)),
                                             medianError: errors.isEmpty ? .nan : errors[errors.count / 2]))
        }
        return DefocusSummary(input: particles.file.file, kminAngstrom: options.kminAngstrom, searchRange: options.searchRange,
                              astigmatism: options.astigmatism, rmsChange: rms(all.map(\.change)), meanChange: mean(all.map(\.change)),
                              groups: groups, micrographs: micResults, particles: all.count, seconds: streamed.seconds)
    }

    static func rms(_ v: [Double]) -> Double { v.isEmpty ? .nan : (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot() }
    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    static func finish(particles: RefineParticles, results: DefocusAccumulator, streamed: StreamSummary, options: DefocusOptions,
                       starOut: String, jsonOut: String, outputDirectory: String, policy: OutputPolicy,
                       requireAll: Bool) throws -> DefocusRunOutput {
        var defocus: [Int: (u: Double, v: Double, angle: Double)] = [:]
        for m in results.micrographs { for p in m.particles { defocus[p.row] = (p.defocusU, p.defocusV, p.defocusAngle) } }
        if requireAll, defocus.count != particles.records.count {
            let missing = particles.records.map(\.row).filter { defocus[$0] == nil }
            throw RefineError.badShard(path: outputDirectory,
                                       reason: "the shards hold \(defocus.count) of \(particles.records.count) particles (missing rows \(missing.prefix(5).map { String($0 + 1) }.joined(separator: ", "))…)")
        }
        let summary = summarise(particles: particles, results: results, options: options, streamed: streamed)
        try applyDefocus(to: particles, defocus)
        let json = try encodeJSON(summary)
        try RefineShards.makeDirectory(outputDirectory)
        try particles.file.document.write(to: starOut, policy: policy)
        try writeFileAtomically(json, to: jsonOut, policy: policy)
        return DefocusRunOutput(summary: summary, files: [starOut, jsonOut], shardFile: nil)
    }
}
