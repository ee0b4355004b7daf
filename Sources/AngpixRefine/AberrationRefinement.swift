// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `refine aberrations` from the inputs to the outputs: one pass over the particles (or one shard
// of them) accumulating, per optics group and half set, the sums of the even fit
// (EvenAberrationSums) and of the odd fit (OddAberrationSums); the per-group solve (a delta on the
// current rlnEvenZernike, and a delta on the current odd terms with the file's beam tilt inserted,
// from which the new tilt is extracted as RELION 3.1 does); the summary (refine.json), the plots,
// and OUTDIR/particles.star with rlnEvenZernike, rlnOddZernike and rlnBeamTiltX/Y.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

/// The options of an aberration refinement.
public struct AberrationOptions: Sendable {
    /// Weights start at 1/kmin (Å).
    public var kminAngstrom: Double = 20
    /// The radial orders of the even (4 or 6) and odd (3 or 5) fits.
    public var evenOrder = 4, oddOrder = 3
    /// Which fits to make.
    public var fitEven = true, fitOdd = true
    /// Groups with fewer particles keep their aberrations.
    public var minimumParticles = 20
    /// Passes over the data at most (not with shards): each pass predicts with the previous pass's
    /// terms, so what the linear model of a phase change leaves is found by the next; they stop
    /// when no coefficient moves by more than a fifth of its standard error.
    public var iterations = 4
    public var stream = StreamSettings()

    public init() {}
}

/// One optics group's even and odd sums, by half set (index 0: rlnRandomSubset 1).
public struct AberrationGroupSums: Codable, Sendable {
    public var even: [EvenAberrationSums]?
    public var odd: [OddAberrationSums]?
}

/// The partial sums of `refine aberrations`, per optics group (one per worker thread; additive).
public struct AberrationAccumulator: ObservationAccumulator, Codable {
    /// Sums by optics group number.
    public var groups: [Int: AberrationGroupSums] = [:]
    let weights: [Int: FrequencyWeights]
    let tables: [Int: TransferTable]
    let fitEven: Bool, fitOdd: Bool

    /// `tables` (one per group, made once) speed the sums; groups without weights are skipped.
    public init(weights: [Int: FrequencyWeights], tables: [Int: TransferTable] = [:], fitEven: Bool = true, fitOdd: Bool = true) {
        self.weights = weights; self.tables = tables; self.fitEven = fitEven; self.fitOdd = fitOdd
    }

    enum CodingKeys: String, CodingKey { case groups }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        groups = try c.decode([Int: AberrationGroupSums].self, forKey: .groups)
        weights = [:]; tables = [:]; fitEven = true; fitOdd = true
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(groups, forKey: .groups)
    }

    public mutating func add(micrograph: String, observations: [ParticleObservation]) throws {
        for o in observations {
            guard let w = weights[o.opticsGroup] else { continue }
            let grid = SpectrumGrid(opticsGroup: o.opticsGroup, boxSize: o.boxSize, pixelSize: o.pixelSize)
            let m = o.ctf.magMatrix ?? .identity
            var g = groups[o.opticsGroup] ?? AberrationGroupSums(
                even: fitEven ? [EvenAberrationSums(grid: grid, magMatrix: m), EvenAberrationSums(grid: grid, magMatrix: m)] : nil,
                odd: fitOdd ? [OddAberrationSums(grid: grid, magMatrix: m), OddAberrationSums(grid: grid, magMatrix: m)] : nil)
            let h = o.randomSubset == 2 ? 1 : 0
            let table = tables[o.opticsGroup]
            do {
                if g.even != nil { try g.even![h].add(o, weights: w, table: table) }
                if g.odd != nil { try g.odd![h].add(o, weights: w, table: table) }
            } catch {
                throw RefineError.invalidOption("micrograph \(micrograph): \(error)")
            }
            groups[o.opticsGroup] = g
        }
    }

    public mutating func merge(_ other: AberrationAccumulator) throws {
        for (n, o) in other.groups {
            guard var g = groups[n] else { groups[n] = o; continue }
            if let oe = o.even {
                if g.even == nil { g.even = oe } else { for h in 0..<2 { try g.even![h].merge(oe[h]) } }
            }
            if let oo = o.odd {
                if g.odd == nil { g.odd = oo } else { for h in 0..<2 { try g.odd![h].merge(oo[h]) } }
            }
            groups[n] = g
        }
    }
}

/// The even (symmetric) fit of one group.
public struct EvenAberrationResult: Codable, Sendable, Equatable {
    public var order: Int
    /// rlnEvenZernike before and after (RELION's order; Z40 at index 6).
    public var oldCoefficients: [Double]
    public var newCoefficients: [Double]
    /// The fitted change and its standard errors (normal equations).
    public var delta: [Double]
    public var standardErrors: [Double]
    /// |a − b| / 2 of the two half sets' fits per coefficient (nil when a half set is too small).
    public var halfSetSpread: [Double]?
    /// Z40 (index 6) after, its standard error and half-set spread.
    public var z40: Double
    public var z40Error: Double
    public var z40HalfSetSpread: Double?
    /// |Z40| ≥ 3 σ: the data support the estimate.
    public var z40Significant: Bool
    /// The Cs (mm) the new Z40 implies with the group's Cs: Cs + 12 Z40 · 10⁻⁷ / (π λ³).
    public var apparentCs: Double
}

/// The odd (antisymmetric) fit and beam tilt of one group.
public struct OddAberrationResult: Codable, Sendable, Equatable {
    public var order: Int
    /// rlnOddZernike and rlnBeamTiltX/Y (mrad) before and after.
    public var oldCoefficients: [Double]
    public var newCoefficients: [Double]
    public var oldBeamTiltX: Double, oldBeamTiltY: Double
    public var beamTiltX: Double?, beamTiltY: Double?
    /// Standard errors (mrad) from the normal equations, and half the difference of the half sets' tilts.
    public var beamTiltXError: Double?, beamTiltYError: Double?
    public var beamTiltXHalfSetSpread: Double?, beamTiltYHalfSetSpread: Double?
    /// The fitted change of the odd terms (tilt included) and its standard errors.
    public var delta: [Double]
    public var standardErrors: [Double]
    /// The tilt is at least 3 σ from zero in X or Y.
    public var beamTiltSignificant: Bool
}

/// One optics group's result.
public struct AberrationGroupResult: Codable, Sendable, Equatable {
    public var opticsGroup: Int
    public var name: String
    public var particles: Int
    public var even: EvenAberrationResult?
    public var odd: OddAberrationResult?
    /// Why a fit was not made (the values are then kept).
    public var kept: [String]
}

/// The summary of a run (OUTDIR/refine.json).
public struct AberrationSummary: Codable, Sendable, Equatable {
    public var command = "refine aberrations"
    public var input: String
    public var kminAngstrom: Double
    public var groups: [AberrationGroupResult]
    public var particles: Int
    public var micrographs: Int
    public var seconds: Double
    /// Passes over the data.
    public var passes = 1
}

/// A shard's partial sums (OUTDIR/refine_shardIIIofNNN.json).
public struct AberrationShard: Codable, Sendable, RefineShardFile {
    public var kind = "angpix refine aberrations partial sums"
    public var input: String
    public var particleCount: Int
    public var shard: Int, shardCount: Int
    public var kminAngstrom: Double
    public var evenOrder: Int, oddOrder: Int
    public var fitEven: Bool, fitOdd: Bool
    public var sums: AberrationAccumulator
    public var summary: StreamSummary

    public var runKey: String { "kmin \(kminAngstrom) Å, even order \(fitEven ? String(evenOrder) : "none"), odd order \(fitOdd ? String(oddOrder) : "none")" }
}

/// What `refine aberrations` writes.
public struct AberrationRunOutput: Sendable {
    public var summary: AberrationSummary
    /// Files written.
    public var files: [String]
    /// Shard runs: the partial-sums file instead of results.
    public var shardFile: String?
}

/// `angpix refine aberrations`: one machine, a shard, or the merge of shards.
public enum AberrationRun {
    /// The current odd terms of each group (by index), with the file's beam tilt inserted.
    static func currentOdd(_ particles: RefineParticles) -> [[Double]] { particles.optics.groups.map(currentOddZernike) }

    /// Accumulates the sums of `particles` (or the settings' shard).
    public static func accumulate(particles: RefineParticles, reference: RefineReference, options: AberrationOptions,
                                  progress: ProgressHandler? = nil) throws -> (AberrationAccumulator, StreamSummary) {
        let weights = groupWeights(particles, reference, kminAngstrom: options.kminAngstrom)
        let odd = currentOdd(particles)
        var tables: [Int: TransferTable] = [:]
        for (gi, g) in particles.optics.groups.enumerated() {
            let grid = SpectrumGrid(opticsGroup: g.number, boxSize: g.imageSize, pixelSize: g.imagePixelSize)
            var ctf = CTFParameters(group: g, defocusU: 10000, defocusV: 10000, defocusAngle: 0)
            ctf.oddZernike = odd[gi]
            tables[g.number] = TransferTable(grid: grid, ctf: ctf)
        }
        var settings = options.stream
        settings.gradients = false
        settings.weights = weights
        settings.oddZernike = odd
        let fitEven = options.fitEven, fitOdd = options.fitOdd, t = tables
        return try streamObservations(particles: particles, reference: reference, settings: settings,
                                      make: { AberrationAccumulator(weights: weights, tables: t, fitEven: fitEven, fitOdd: fitOdd) },
                                      progress: progress)
    }

    /// Solves every group: the new optics (only for groups fitted) and the results.
    public static func solve(particles: RefineParticles, sums: AberrationAccumulator, options: AberrationOptions)
        -> (aberrations: [Int: GroupAberrations], results: [AberrationGroupResult], plots: [Int: AberrationPlotData]) {
        var out: [Int: GroupAberrations] = [:]
        var results: [AberrationGroupResult] = []
        var plots: [Int: AberrationPlotData] = [:]
        let odd = currentOdd(particles)
        for (gi, g) in particles.optics.groups.enumerated() {
            let s = sums.groups[g.number]
            var r = AberrationGroupResult(opticsGroup: g.number, name: g.name, particles: 0, even: nil, odd: nil, kept: [])
            var change = GroupAberrations()
            var plot = AberrationPlotData()
            let lambda = electronWavelength(kilovolts: g.voltage)
            if options.fitEven, let halves = s?.even {
                let all = halves[0] + halves[1]
                r.particles = all.particleCount
                if all.particleCount < options.minimumParticles {
                    r.kept.append("\(all.particleCount) particles, fewer than the \(options.minimumParticles) needed: rlnEvenZernike is kept")
                } else {
                    do {
                        let e = try EvenAberrationEstimator.fit(all, order: options.evenOrder)
                        let new = e.updated(g.evenZernike)
                        var spread: [Double]?
                        if min(halves[0].particleCount, halves[1].particleCount) >= max(2, options.minimumParticles / 2),
                           let a = try? EvenAberrationEstimator.fit(halves[0], order: options.evenOrder),
                           let b = try? EvenAberrationEstimator.fit(halves[1], order: options.evenOrder) {
                            spread = ZernikeEstimate.halfSetStandardErrors(a, b)
                        }
                        let z40 = new.count > 6 ? new[6] : 0, z40e = e.standardErrors.count > 6 ? e.standardErrors[6] : .infinity
                        r.even = EvenAberrationResult(
                            order: options.evenOrder, oldCoefficients: g.evenZernike, newCoefficients: new, delta: e.delta,
                            standardErrors: e.standardErrors, halfSetSpread: spread, z40: z40, z40Error: z40e,
                            z40HalfSetSpread: spread.map { $0.count > 6 ? $0[6] : .nan }, z40Significant: abs(z40) >= 3 * z40e,
                            apparentCs: g.sphericalAberration + 12 * z40 * 1e-7 / (Double.pi * lambda * lambda * lambda))
                        change.evenZernike = new
                        let image = EvenAberrationEstimator.perPixelPhase(all).image
                        plot.evenMeasured = image
                        plot.evenFitted = EvenAberrationEstimator.phaseImage(e.delta, grid: all.grid, magMatrix: all.magMatrix, odd: false)
                    } catch {
                        r.kept.append("even aberrations: \(error); rlnEvenZernike is kept")
                    }
                }
            }
            if options.fitOdd, let halves = s?.odd {
                let all = halves[0] + halves[1]
                r.particles = all.particleCount
                let oldX = g.values["rlnBeamTiltX"].flatMap(Double.init) ?? 0, oldY = g.values["rlnBeamTiltY"].flatMap(Double.init) ?? 0
                if all.particleCount < options.minimumParticles {
                    r.kept.append("\(all.particleCount) particles, fewer than the \(options.minimumParticles) needed: the odd terms and beam tilt are kept")
                } else {
                    do {
                        let cs = g.sphericalAberration
                        let e = try OddAberrationEstimator.fit(all, order: options.oddOrder, current: odd[gi], sphericalAberration: cs, wavelength: lambda)
                        var sx: Double?, sy: Double?
                        if min(halves[0].particleCount, halves[1].particleCount) >= max(2, options.minimumParticles / 2),
                           let a = try? OddAberrationEstimator.fit(halves[0], order: options.oddOrder, current: odd[gi], sphericalAberration: cs, wavelength: lambda),
                           let b = try? OddAberrationEstimator.fit(halves[1], order: options.oddOrder, current: odd[gi], sphericalAberration: cs, wavelength: lambda),
                           let ax = a.beamTiltX, let bx = b.beamTiltX, let ay = a.beamTiltY, let by = b.beamTiltY {
                            sx = abs(ax - bx) / 2; sy = abs(ay - by) / 2
                        }
                        var significant = false
                        if let tx = e.beamTiltX, let ty = e.beamTiltY, let ex = e.beamTiltXError, let ey = e.beamTiltYError {
                            significant = abs(tx) >= 3 * ex || abs(ty) >= 3 * ey
                        }
                        r.odd = OddAberrationResult(
                            order: options.oddOrder, oldCoefficients: g.oddZernike, newCoefficients: e.oddZernike,
                            oldBeamTiltX: oldX, oldBeamTiltY: oldY, beamTiltX: e.beamTiltX, beamTiltY: e.beamTiltY,
                            beamTiltXError: e.beamTiltXError, beamTiltYError: e.beamTiltYError,
                            beamTiltXHalfSetSpread: sx, beamTiltYHalfSetSpread: sy,
                            delta: e.zernike.delta, standardErrors: e.zernike.standardErrors, beamTiltSignificant: significant)
                        change.oddZernike = e.oddZernike
                        change.beamTiltX = e.beamTiltX
                        change.beamTiltY = e.beamTiltY
                        plot.oddMeasured = OddAberrationEstimator.perPixelPhase(all)
                        plot.oddFitted = EvenAberrationEstimator.phaseImage(e.zernike.delta, grid: all.grid, magMatrix: all.magMatrix, odd: true)
                    } catch {
                        r.kept.append("odd aberrations: \(error); rlnOddZernike and the beam tilt are kept")
                    }
                }
            }
            if s == nil { r.kept.append("no particles: the aberrations are kept") }
            if change != GroupAberrations() { out[g.number] = change }
            if plot.evenMeasured != nil || plot.oddMeasured != nil { plots[g.number] = plot }
            results.append(r)
        }
        return (out, results, plots)
    }

    /// Runs on `input` (or its shard) and writes into `outputDirectory`.
    public static func run(input: String, reference source: ReferenceSource, outputDirectory: String,
                           options: AberrationOptions, force: Bool,
                           progress: ProgressHandler? = nil) throws -> AberrationRunOutput {
        guard options.fitEven || options.fitOdd else { throw RefineError.invalidOption("--no-even and --no-odd together leave nothing to fit") }
        guard options.evenOrder == 4 || options.evenOrder == 6 else { throw RefineError.invalidOption("--even-order must be 4 or 6") }
        guard options.oddOrder == 3 || options.oddOrder == 5 else { throw RefineError.invalidOption("--odd-order must be 3 or 5") }
        let policy = OutputPolicy(overwrite: force, inputs: [input] + source.files)
        let isShard = options.stream.shardCount > 1
        let shardOut = (outputDirectory as NSString).appendingPathComponent(
            RefineShards.fileName(shard: options.stream.shard, count: options.stream.shardCount))
        if isShard { try policy.check(shardOut) } else {
            for path in [outputPaths(outputDirectory).star, outputPaths(outputDirectory).json] { try policy.check(path) }
        }
        var particles = try RefineParticles(path: input)
        let original = particles.optics.groups
        let reference = try source.load()
        var (sums, streamed) = try accumulate(particles: particles, reference: reference, options: options, progress: progress)
        var passes = 1
        // Further passes (not with shards: those make one, and a rerun on the merged output makes the next).
        while !isShard && passes < options.iterations {
            let (aberrations, results, _) = solve(particles: particles, sums: sums, options: options)
            let moved = results.contains { r in
                let even = r.even.map { e in zip(e.delta, e.standardErrors).contains { abs($0) > 0.2 * $1 } } ?? false
                let odd = r.odd.map { o in zip(o.delta, o.standardErrors).contains { abs($0) > 0.2 * $1 } } ?? false
                return even || odd
            }
            if !moved || aberrations.isEmpty { break }
            try applyAberrations(to: particles, aberrations)
            particles = try RefineParticles(file: RelionParticleFile(document: particles.file.document, file: input))
            let (next, s) = try accumulate(particles: particles, reference: reference, options: options, progress: progress)
            sums = next
            streamed = StreamSummary(micrographs: s.micrographs, particles: s.particles, seconds: streamed.seconds + s.seconds)
            passes += 1
        }
        if isShard {
            let shard = AberrationShard(input: input, particleCount: particles.records.count, shard: options.stream.shard,
                                        shardCount: options.stream.shardCount, kminAngstrom: options.kminAngstrom,
                                        evenOrder: options.evenOrder, oddOrder: options.oddOrder,
                                        fitEven: options.fitEven, fitOdd: options.fitOdd, sums: sums, summary: streamed)
            try RefineShards.makeDirectory(outputDirectory)
            try writeFileAtomically(encodeJSON(shard), to: shardOut, policy: policy)
            let summary = AberrationSummary(input: input, kminAngstrom: options.kminAngstrom, groups: [], particles: streamed.particles,
                                            micrographs: streamed.micrographs, seconds: streamed.seconds)
            return AberrationRunOutput(summary: summary, files: [shardOut], shardFile: shardOut)
        }
        return try finish(particles: particles, sums: sums, streamed: streamed, options: options,
                          outputDirectory: outputDirectory, policy: policy, passes: passes, original: passes > 1 ? original : nil)
    }

    /// Adds the partial sums found in `directories` (all shards 1…N of one run) and writes what a
    /// single run would have into `outputDirectory`.
    public static func merge(directories: [String], outputDirectory: String, minimumParticles: Int = 20,
                             force: Bool) throws -> AberrationRunOutput {
        let shards = try RefineShards.load(AberrationShard.self, directories: directories, command: "refine aberrations")
        let first = shards[0]
        let input = first.shard.input
        let policy = OutputPolicy(overwrite: force, inputs: [input] + shards.map(\.path))
        for path in [outputPaths(outputDirectory).star, outputPaths(outputDirectory).json] { try policy.check(path) }
        let particles = try RefineParticles(path: input)
        guard particles.records.count == first.shard.particleCount else {
            throw RefineError.badShard(path: first.path, reason: "made from \(first.shard.particleCount) particles, \(input) now has \(particles.records.count)")
        }
        var total = AberrationAccumulator(weights: [:])
        var streamed = StreamSummary(micrographs: 0, particles: 0, seconds: 0)
        for (_, s) in shards {
            try total.merge(s.sums)
            streamed.micrographs += s.summary.micrographs; streamed.particles += s.summary.particles; streamed.seconds += s.summary.seconds
        }
        var options = AberrationOptions()
        options.kminAngstrom = first.shard.kminAngstrom
        options.evenOrder = first.shard.evenOrder; options.oddOrder = first.shard.oddOrder
        options.fitEven = first.shard.fitEven; options.fitOdd = first.shard.fitOdd
        options.minimumParticles = minimumParticles
        return try finish(particles: particles, sums: total, streamed: streamed, options: options,
                          outputDirectory: outputDirectory, policy: policy)
    }

    static func outputPaths(_ dir: String) -> (star: String, json: String) {
        ((dir as NSString).appendingPathComponent("particles.star"), (dir as NSString).appendingPathComponent("refine.json"))
    }

    static func finish(particles: RefineParticles, sums: AberrationAccumulator, streamed: StreamSummary, options: AberrationOptions,
                       outputDirectory: String, policy: OutputPolicy, passes: Int = 1, original: [OpticsGroup]? = nil) throws -> AberrationRunOutput {
        let (aberrations, results0, plots) = solve(particles: particles, sums: sums, options: options)
        // After several passes, the change is reported from the input file's terms.
        var results = results0
        if let original {
            for i in results.indices {
                guard let g = original.first(where: { $0.number == results[i].opticsGroup }) else { continue }
                results[i].even?.oldCoefficients = g.evenZernike
                if let new = results[i].even?.newCoefficients {
                    results[i].even?.delta = new.enumerated().map { $0.element - (($0.offset < g.evenZernike.count) ? g.evenZernike[$0.offset] : 0) }
                }
                results[i].odd?.oldCoefficients = g.oddZernike
                results[i].odd?.oldBeamTiltX = g.values["rlnBeamTiltX"].flatMap(Double.init) ?? 0
                results[i].odd?.oldBeamTiltY = g.values["rlnBeamTiltY"].flatMap(Double.init) ?? 0
                // The odd delta is, as in one pass, on the terms with the tilt inserted.
                if let o = results[i].odd {
                    let new = BeamTilt.insert(tiltX: o.beamTiltX ?? 0, tiltY: o.beamTiltY ?? 0, into: o.newCoefficients,
                                              sphericalAberration: g.sphericalAberration, wavelength: electronWavelength(kilovolts: g.voltage))
                    let old = currentOddZernike(g)
                    results[i].odd?.delta = new.enumerated().map { $0.element - (($0.offset < old.count) ? old[$0.offset] : 0) }
                }
            }
        }
        var summary = AberrationSummary(input: particles.file.file, kminAngstrom: options.kminAngstrom, groups: results,
                                        particles: streamed.particles, micrographs: streamed.micrographs, seconds: streamed.seconds)
        summary.passes = passes
        try applyAberrations(to: particles, aberrations)
        // Everything is computed before anything is written.
        let json = try encodeJSON(summary)
        var svgs: [(String, String)] = []
        for (n, p) in plots.sorted(by: { $0.key < $1.key }) {
            let name = particles.optics.groups.first { $0.number == n }?.name ?? "\(n)"
            svgs.append(((outputDirectory as NSString).appendingPathComponent("aberrations_group\(n).svg"),
                         AberrationPlots.phases(p, title: "Optics group \(n) (\(name))")))
        }
        for (path, _) in svgs { try policy.check(path) }
        let (starOut, jsonOut) = outputPaths(outputDirectory)
        try RefineShards.makeDirectory(outputDirectory)
        try particles.file.document.write(to: starOut, policy: policy)
        try writeFileAtomically(json, to: jsonOut, policy: policy)
        for (path, svg) in svgs { try writeFileAtomically(svg, to: path, policy: policy) }
        return AberrationRunOutput(summary: summary, files: [starOut, jsonOut] + svgs.map(\.0), shardFile: nil)
    }
}
