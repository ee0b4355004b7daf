// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The particles streamed micrograph by micrograph into the fits: each worker thread takes the next
// micrograph, reads its images from the (memory-mapped) stacks, transforms them, predicts each
// from the other half map (with the gradient when the magnification fit needs it) and hands the
// micrograph's [ParticleObservation] to its own accumulator. Memory is the two projectors plus
// one micrograph of spectra per thread; the accumulators' partial sums are added at the end (and
// across shards: `--shard I/N` takes every N-th micrograph from the I-th).
//
// Where the estimators plug in: an estimator's per-group partial sums conform to
// `ObservationAccumulator` (add one micrograph, merge another accumulator); `streamObservations`
// runs any of them.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC
import AngpixFourier
import AngpixOptics

/// Additive sums over particles: a fit's partial sums (per optics group), one per worker thread.
public protocol ObservationAccumulator: Sendable {
    /// Adds the observations of one micrograph (all its particles that are in the work).
    mutating func add(micrograph: String, observations: [ParticleObservation]) throws
    /// Adds another accumulator's sums to this one.
    mutating func merge(_ other: Self) throws
}

/// Which micrographs a run processes and what each observation carries.
public struct StreamSettings: Sendable {
    /// Shard I of N (1-based): every N-th micrograph (sorted by name) from the I-th.
    public var shard: Int = 1, shardCount: Int = 1
    /// Whether predictions carry ∂/∂k (the magnification fit).
    public var gradients: Bool = false
    /// The current magnification matrix of each group (by index in the optics table); nil = the file's.
    public var magMatrices: [Matrix2x2?]? = nil
    /// With `magMatrices` other than the file's: carry each particle's defocus into the new
    /// coordinates (its CTF on the observed grid stays the one fitted to its image, as the written
    /// output will have it); false for `--keep-astig`, where the file's defocus is kept as it is.
    public var carryDefocus = true
    /// The current even / odd Zernike coefficients of each group; nil = the file's.
    public var evenZernike: [[Double]]? = nil
    public var oddZernike: [[Double]]? = nil
    /// Folder that relative stack paths are read from (the RELION project folder).
    public var projectDirectory: String = FileManager.default.currentDirectoryPath
    /// Use only the optics groups with these indices (nil = all).
    public var groupIndices: Set<Int>? = nil
    /// The fits' weights by optics group number: predictions are computed only where they are
    /// non-zero (nil: everywhere).
    public var weights: [Int: FrequencyWeights]? = nil
    /// Apply each particle's CTF on a field twice the box and box it, as extraction does
    /// (`BoxedCTF`: observations carry `ctfSine` / `ctfCosine`), for the CTF-phase fits.
    public var boxedCTF = true

    public init() {}
}

/// What a stream did.
public struct StreamSummary: Sendable, Codable, Equatable {
    /// Micrographs and particles processed.
    public var micrographs: Int, particles: Int
    /// Seconds of wall time.
    public var seconds: Double
}

/// The micrographs of shard `shard` of `shardCount` (every N-th from the I-th, names sorted).
public func shardMicrographs(_ particles: RefineParticles, shard: Int, shardCount: Int) -> [(name: String, rows: [Int])] {
    let all = particles.micrographs()
    return all.enumerated().filter { $0.offset % shardCount == shard - 1 }.map { $0.element }
}

/// Streams the particles of `settings`' shard into accumulators made by `make`, one per thread,
/// and returns their sum. Errors name the particle file, the row and the stack.
public func streamObservations<A: ObservationAccumulator>(
    particles: RefineParticles, reference: RefineReference, settings: StreamSettings,
    make: @Sendable () -> A, progress: ProgressHandler? = nil) throws -> (A, StreamSummary) {
    let start = Date()
    var micrographs = shardMicrographs(particles, shard: settings.shard, shardCount: settings.shardCount)
    if let only = settings.groupIndices {
        micrographs = micrographs.compactMap { m in
            let rows = m.rows.filter { only.contains(particles.records[$0].groupIndex) }
            return rows.isEmpty ? nil : (m.name, rows)
        }
    }
    let total = micrographs.reduce(0) { $0 + $1.rows.count }
    let threads = max(1, min(Parallelism.jobs, micrographs.count))
    let state = StreamState(threads: threads)
    let stacks = StackCache(projectDirectory: settings.projectDirectory)
    var accumulators = (0..<threads).map { _ in make() }
    let groups = particles.optics.groups
    // Per-group constants: FFT plans.
    var plans: [Int: RealFFTPlan] = [:]
    for g in groups where plans[g.imageSize] == nil { plans[g.imageSize] = try RealFFTPlan(shape: [g.imageSize, g.imageSize]) }
    let planByBox = plans
    var boxers: [Int: BoxedCTF] = [:]
    if settings.boxedCTF {
        // The field must hold the CTF's spread at the group's largest defocus and the highest
        // frequency the projector predicts.
        let kmax = Double(reference.projectors[0].radius) / (Double(reference.projectors[0].paddingFactor * reference.boxSize) * reference.pixelSize)
        var maxDefocus: [Int: Double] = [:]
        for r in particles.records { maxDefocus[r.groupIndex] = max(maxDefocus[r.groupIndex] ?? 0, r.defocusU, r.defocusV) }
        for (gi, g) in groups.enumerated() {
            let n = BoxedCTF.fieldSize(boxSize: g.imageSize, pixelSize: g.imagePixelSize, maximumDefocus: maxDefocus[gi] ?? 0,
                                       maximumFrequency: kmax, wavelength: electronWavelength(kilovolts: g.voltage),
                                       sphericalAberrationMillimetres: g.sphericalAberration)
            boxers[g.number] = try BoxedCTF(opticsGroup: g.number, boxSize: g.imageSize, pixelSize: g.imagePixelSize, fieldSize: n)
        }
    }
    let boxerByGroup = boxers
    accumulators.withUnsafeMutableBufferPointer { accs in
        nonisolated(unsafe) let accs = accs
        parallelForEach(threads) { t in
            var fieldTables: [Int: TransferTable] = [:]
            while let m = state.next(limit: micrographs.count) {
                let (name, rows) = micrographs[m]
                do {
                    var observations: [ParticleObservation] = []
                    observations.reserveCapacity(rows.count)
                    for row in rows {
                        let r = particles.records[row]
                        let g = groups[r.groupIndex]
                        let s = g.imageSize
                        let observed = try readSpectrum(particles: particles, record: r, box: s, pixelSize: g.imagePixelSize,
                                                        plan: planByBox[s]!, stacks: stacks)
                        let mag: Matrix2x2?? = settings.magMatrices.map { $0[r.groupIndex] }
                        var ctf = particles.ctfParameters(row: row, magMatrix: mag,
                                                          evenZernike: settings.evenZernike?[r.groupIndex],
                                                          oddZernike: settings.oddZernike?[r.groupIndex])
                        // A pass at another matrix than the file's: the particle's CTF must stay the
                        // one fitted to its image, so its defocus is carried into the new coordinates.
                        if settings.carryDefocus, let new = ctf.magMatrix {
                            let old = g.magMatrix.map(Matrix2x2.init) ?? .identity
                            if new != old {
                                let c = carryDefocus(u: ctf.defocusU, v: ctf.defocusV, angleDegrees: ctf.defocusAngle,
                                                     old: old, new: new)
                                ctf.defocusU = c.u; ctf.defocusV = c.v; ctf.defocusAngle = c.angle
                            }
                        }
                        let pred = reference.projector(forSubset: r.randomSubset).project(
                            pose: r.pose, boxSize: s, pixelSize: g.imagePixelSize, magMatrix: ctf.magMatrix,
                            gradient: settings.gradients, only: settings.weights?[g.number])
                        var boxed: (sine: [Complex32], cosine: [Complex32])?
                        if let boxer = boxerByGroup[g.number] {
                            let field = reference.projector(forSubset: r.randomSubset).project(
                                pose: r.pose, boxSize: boxer.fieldSize, pixelSize: g.imagePixelSize, magMatrix: ctf.magMatrix)
                            let table: TransferTable
                            if let t = fieldTables[g.number], t.fits(ctf) { table = t } else {
                                table = TransferTable(grid: boxer.fieldGrid, ctf: ctf)
                                fieldTables[g.number] = table
                            }
                            boxed = boxer.basis(field: field.values, ctf: ctf, table: table)
                        }
                        observations.append(ParticleObservation(
                            boxSize: s, pixelSize: g.imagePixelSize, opticsGroup: g.number, randomSubset: r.randomSubset,
                            micrographName: name, row: row, ctf: ctf, observed: observed, predicted: pred.values,
                            gradientX: pred.gradientX, gradientY: pred.gradientY,
                            ctfSine: boxed?.sine, ctfCosine: boxed?.cosine))
                    }
                    try accs[t].add(micrograph: name, observations: observations)
                    let done = state.finished(rows.count)
                    progress?(done, total)
                } catch {
                    state.fail(error)
                }
            }
        }
    }
    if let error = state.error { throw error }
    var sum = accumulators[0]
    for a in accumulators.dropFirst() { try sum.merge(a) }
    return (sum, StreamSummary(micrographs: micrographs.count, particles: total, seconds: Date().timeIntervalSince(start)))
}

/// The forward FFT / s² of a particle's image, checked against its group's box.
func readSpectrum(particles: RefineParticles, record r: ParticleRecord, box s: Int, pixelSize: Double,
                  plan: RealFFTPlan, stacks: StackCache) throws -> [Complex32] {
    var image = [Float](repeating: 0, count: s * s)
    var spectrum = [Complex32](repeating: .zero, count: s * (s / 2 + 1))
    try image.withUnsafeMutableBufferPointer { i in
        try spectrum.withUnsafeMutableBufferPointer { o in
            try readSpectrum(particles: particles, record: r, box: s, plan: plan, stacks: stacks, image: i, spectrum: o)
        }
    }
    let norm = 1 / Float(s * s)
    for i in spectrum.indices { spectrum[i] = spectrum[i] * norm }
    return spectrum
}

/// The unnormalised forward FFT of a particle's image into `spectrum` (s × (s/2 + 1) values),
/// with `image` (s² values) as scratch, checked against its group's box.
func readSpectrum(particles: RefineParticles, record r: ParticleRecord, box s: Int, plan: RealFFTPlan, stacks: StackCache,
                  image: UnsafeMutableBufferPointer<Float>, spectrum: UnsafeMutableBufferPointer<Complex32>) throws {
    // The line is found only for an error: finding it counts the file's lines up to the row.
    func fail(_ reason: String) -> RefineError {
        .badImage(file: particles.file.file, line: particles.file.particles.line(row: r.row), row: r.row + 1,
                  stack: r.image.stackPath, reason: reason)
    }
    let reader: MRCStackReader
    do { reader = try stacks.reader(r.image.stackPath) } catch {
        throw fail("cannot open the stack: \(error)")
    }
    guard r.image.index <= reader.count else {
        throw fail("image \(r.image.index) asked for, the stack has \(reader.count)")
    }
    guard reader.nx == s, reader.ny == s else {
        throw fail("the images are \(reader.nx) × \(reader.ny) pixels, the optics group's rlnImageSize is \(s)")
    }
    try reader.readImage(r.image.index - 1, into: image)
    reader.release((r.image.index - 1)..<r.image.index)
    plan.forward(UnsafeBufferPointer(image), spectrum, threads: 1)
}

/// Open stacks shared by the worker threads (each stack is opened once).
final class StackCache: @unchecked Sendable {
    let projectDirectory: String
    private var open: [String: MRCStackReader] = [:]
    private var failed: [String: String] = [:]
    private let lock = NSLock()

    init(projectDirectory: String) { self.projectDirectory = projectDirectory }

    func reader(_ path: String) throws -> MRCStackReader {
        lock.lock(); defer { lock.unlock() }
        if let r = open[path] { return r }
        if let f = failed[path] { throw RefineError.invalidOption(f) }
        let full = path.hasPrefix("/") ? path : (projectDirectory as NSString).appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: full) else {
            failed[path] = "no such file"
            throw RefineError.invalidOption("no such file")
        }
        let r = try MRCStackReader(path: full)
        open[path] = r
        return r
    }
}

/// The work counter and the first error of a stream.
final class StreamState: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private var done = 0
    private(set) var error: Error?

    init(threads: Int) {}

    func next(limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard error == nil, nextIndex < limit else { return nil }
        defer { nextIndex += 1 }
        return nextIndex
    }

    func finished(_ n: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        done += n
        return done
    }

    func fail(_ e: Error) {
        lock.lock(); defer { lock.unlock() }
        if error == nil { error = e }
    }
}
