// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `refine magnification` from the inputs to the outputs: passes over the particles (or one shard
// of them), the per-group solve, the new rlnMagMat00…11 composed with the old matrix, each
// particle's defocus and astigmatism carried into the new coordinates (unless keepAstigmatism),
// the summary (refine.json) and the partial-sums file of a shard.
//
// Carrying the defocus: CtfFind fitted the defocus term kᵀ·M_oldᵀ·A·M_old·k on the observed
// frequencies k; after M_old → M_new it must stay the same on them, so A' = Tᵀ A T with
// T = M_old · M_new⁻¹ (RELION 3.1 ctf_refine does the same unless --keep_astig).

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

/// The options of a magnification refinement.
public struct MagnificationOptions: Sendable {
    /// Weights start at 1/kmin (Å).
    public var kminAngstrom: Double = 20
    /// Passes over the data (at most); the matrix is updated after each, and the passes stop early
    /// when one changes no matrix element by more than a fifth of the scale's standard error.
    /// With more than one, a pilot pass over a tenth of each group's particles comes first (not
    /// counted: it only gives the full passes a closer starting point).
    public var iterations: Int = 1
    /// Keep each particle's defocus values as they are.
    public var keepAstigmatism = false
    /// Groups with fewer particles keep their matrix.
    public var minimumParticles = 20
    public var stream = StreamSettings()
    /// Folder for the pass cache: with more than one pass, the first writes the observed spectra
    /// at the weighted pixels there (an unlinked temporary file) and later passes read them instead
    /// of the stacks. nil: the system's temporary folder.
    public var cacheDirectory: String? = nil

    public init() {}
}

/// One optics group's result.
public struct MagnificationGroupResult: Sendable, Codable, Equatable {
    public var opticsGroup: Int
    public var name: String
    public var particles: Int
    /// The nominal pixel size (rlnImagePixelSize) in Å.
    public var nominalPixelSize: Double
    /// rlnMagMat00, 01, 10, 11 before and after.
    public var oldMatrix: [Double]
    public var newMatrix: [Double]
    /// √|det M_new|: the group's magnification relative to the reference (M maps the observed
    /// frequencies to the reference's, so a group truly at 1.02 Å under a nominal 1.00 has 1/1.02).
    public var scale: Double
    /// The pixel size the matrix implies for the group's particles: nominal / scale, in Å, and its
    /// standard error from the normal equations.
    public var impliedPixelSize: Double
    public var impliedPixelSizeError: Double = 0
    /// The anisotropy (σ_max/σ_min − 1) · 100 of M, in %, and the direction of least
    /// magnification in degrees (−90, 90] with its standard error (the conventions of
    /// `MagnificationDecomposition`, shared with `calibrate rings` and `optics trace`).
    public var anisotropyPercent: Double
    public var anisotropyAxisDegrees: Double
    public var anisotropyAxisErrorDegrees: Double = 0
    /// The fitted amplitude scale (the pixel-area change and any contrast difference).
    public var amplitudeScale: Double
    /// Standard error of the scale from the normal equations, and half the difference between
    /// the two half sets' scales (nil when a half set is too small).
    public var scaleErrorNormalEquations: Double
    public var scaleDifferenceBetweenHalves: Double?
    /// Standard error of the anisotropy (percentage points) from the normal equations.
    public var anisotropyErrorPercent: Double
    /// The implied pixel size's and the anisotropy's standard errors from the spread between the
    /// half sets (|a − b| / 2; nil when a half set is too small).
    public var impliedPixelSizeHalfSetError: Double?
    public var anisotropyHalfSetErrorPercent: Double?
    /// Why the matrix was kept, if it was.
    public var kept: String?
}

/// The summary of a run (OUTDIR/refine.json).
public struct MagnificationSummary: Sendable, Codable, Equatable {
    public var command = "refine magnification"
    public var input: String
    public var iterations: Int
    public var groups: [MagnificationGroupResult]
    public var particles: Int
    public var micrographs: Int
    public var seconds: Double
}

/// A shard's partial sums (OUTDIR/refine_shardIIIofNNN.json).
public struct MagnificationShard: Sendable, Codable, RefineShardFile {
    public var kind = "angpix refine magnification partial sums"
    public var input: String
    public var particleCount: Int
    public var shard: Int, shardCount: Int
    public var kminAngstrom: Double
    public var keepAstigmatism: Bool
    public var sums: MagnificationAccumulator
    public var summary: StreamSummary

    /// The file name of shard `shard` of `count`.
    public static func fileName(shard: Int, count: Int) -> String { RefineShards.fileName(shard: shard, count: count) }
    /// What must agree between the shards of one run besides the input and the shard count.
    public var runKey: String { "kmin \(kminAngstrom) Å" }
}

/// The per-group weights for the particles' optics groups.
public func groupWeights(_ particles: RefineParticles, _ reference: RefineReference, kminAngstrom: Double) -> [Int: FrequencyWeights] {
    var w: [Int: FrequencyWeights] = [:]
    for g in particles.optics.groups {
        w[g.number] = reference.weights(boxSize: g.imageSize, pixelSize: g.imagePixelSize, kminAngstrom: kminAngstrom)
    }
    return w
}

/// Runs the passes and returns the new matrix of each group (by index) with the summary.
public func refineMagnification(particles: RefineParticles, reference: RefineReference, options: MagnificationOptions,
                                progress: ProgressHandler? = nil) throws -> (matrices: [Matrix2x2?], summary: MagnificationSummary) {
    let passes = try magnificationPasses(particles: particles, reference: reference, options: options, progress: progress)
    return (passes.matrices, passes.summary)
}

/// The result of a magnification refinement's passes.
public struct MagnificationPassResult {
    /// The new matrix of each group (by index; nil: none in the file and none found).
    public var matrices: [Matrix2x2?]
    public var summary: MagnificationSummary
    /// The first full pass's sums (at the file's matrices, or the pilot's when there was one): the
    /// displacement plots show them.
    public var firstPassSums: MagnificationAccumulator
}

/// Runs the passes (see `refineMagnification`) and keeps the first pass's sums.
public func magnificationPasses(particles: RefineParticles, reference: RefineReference, options: MagnificationOptions,
                                progress: ProgressHandler? = nil) throws -> MagnificationPassResult {
    let groups = particles.optics.groups
    var current: [Matrix2x2?] = groups.map { $0.magMatrix.map(Matrix2x2.init) }
    let weights = groupWeights(particles, reference, kminAngstrom: options.kminAngstrom)
    var results: [MagnificationGroupResult] = []
    var streamed = StreamSummary(micrographs: 0, particles: 0, seconds: 0)
    var passes = 0
    var firstPass: MagnificationAccumulator?
    let passRunner = MagnificationPasses(particles: particles, reference: reference, weights: weights, settings: options.stream,
                                         cacheDirectory: options.iterations > 1 ? options.cacheDirectory ?? NSTemporaryDirectory() : nil)
    // A pilot pass over a tenth of each group's particles (whole micrographs; when more than one
    // pass is allowed, on at least 20 micrographs): a tenth of the cost, and the full passes start
    // near the fixed point, so the pass that confirms convergence usually comes one full pass
    // earlier. Its result is only a starting point: every reported matrix, and the convergence
    // test, come from full passes.
    if options.iterations > 1, options.stream.shardCount == 1,
       let subset = pilotMicrographs(particles, settings: options.stream) {
        var settings = options.stream
        settings.gradients = true
        settings.weights = weights
        settings.magMatrices = current
        settings.carryDefocus = !options.keepAstigmatism
        let pilot = MagnificationPasses(particles: particles, reference: reference, weights: weights, settings: settings,
                                        micrographs: subset, cacheDirectory: nil)
        let (sums, s) = try pilot.run(settings: settings, progress: nil)
        streamed.seconds += s.seconds
        // Groups with fewer than 50 particles in the pilot start from their matrix as before.
        current = solveGroups(particles: particles, sums: sums, current: current,
                              minimumParticles: max(50, options.minimumParticles)).matrices
    }
    for _ in 0..<max(1, options.iterations) {
        passes += 1
        var settings = options.stream
        settings.gradients = true
        settings.boxedCTF = false   // the magnification fit applies the CTF on the box's grid (RELION's model)
        settings.weights = weights
        settings.magMatrices = current
        settings.carryDefocus = !options.keepAstigmatism
        let (sums, s) = try passRunner.run(settings: settings, progress: progress)
        if firstPass == nil { firstPass = sums }
        streamed = StreamSummary(micrographs: s.micrographs, particles: s.particles, seconds: streamed.seconds + s.seconds)
        let step = solveGroups(particles: particles, sums: sums, current: current, minimumParticles: options.minimumParticles)
        results = step.results
        current = step.matrices
        // Converged: in every group this pass changed no matrix element by more than a fifth of
        // the scale's standard error (further passes would only follow the noise), or by 1e-6.
        let converged = results.allSatisfy { r in
            let change = zip(r.newMatrix, r.oldMatrix).map { abs($0 - $1) }.max() ?? 0
            return r.kept != nil || change < max(1e-6, 0.2 * r.scaleErrorNormalEquations)
        }
        if converged { break }
    }
    // Report the change from the file's matrices, not from the last pass's starting point.
    for i in results.indices {
        let m = groups[i].magMatrix.map(Matrix2x2.init) ?? .identity
        results[i].oldMatrix = [m.m00, m.m01, m.m10, m.m11]
    }
    let summary = MagnificationSummary(input: particles.file.file, iterations: passes, groups: results,
                                       particles: streamed.particles, micrographs: streamed.micrographs, seconds: streamed.seconds)
    return MagnificationPassResult(matrices: current, summary: summary, firstPassSums: firstPass!)
}

/// The micrographs of a pilot pass: in name order, each one that holds a particle of a group
/// that has less than a tenth of its particles taken so far; nil for fewer than 20 micrographs.
func pilotMicrographs(_ particles: RefineParticles, settings: StreamSettings) -> [(name: String, rows: [Int])]? {
    let all = selectedMicrographs(particles, settings: settings)
    guard all.count >= 20 else { return nil }
    var total = [Int](repeating: 0, count: particles.optics.groups.count), taken = total
    for m in all { for row in m.rows { total[particles.records[row].groupIndex] += 1 } }
    var subset: [(name: String, rows: [Int])] = []
    for m in all where m.rows.contains(where: { taken[particles.records[$0].groupIndex] * 10 < total[particles.records[$0].groupIndex] }) {
        subset.append(m)
        for row in m.rows { taken[particles.records[row].groupIndex] += 1 }
    }
    return subset
}

/// Solves every group from the sums: the new matrices (unchanged for groups kept) and the results.
public func solveGroups(particles: RefineParticles, sums: MagnificationAccumulator, current: [Matrix2x2?],
                        minimumParticles: Int) -> (matrices: [Matrix2x2?], results: [MagnificationGroupResult]) {
    var matrices = current
    var results: [MagnificationGroupResult] = []
    for (gi, g) in particles.optics.groups.enumerated() {
        let old = current[gi] ?? .identity
        let before = MagnificationDecomposition(old)
        var r = MagnificationGroupResult(
            opticsGroup: g.number, name: g.name, particles: 0, nominalPixelSize: g.imagePixelSize,
            oldMatrix: [old.m00, old.m01, old.m10, old.m11], newMatrix: [old.m00, old.m01, old.m10, old.m11],
            scale: before.isotropicScale, impliedPixelSize: g.imagePixelSize * before.relativePixelSize,
            anisotropyPercent: before.anisotropyPercent, anisotropyAxisDegrees: before.majorAxisAngle, amplitudeScale: 1,
            scaleErrorNormalEquations: 0, scaleDifferenceBetweenHalves: nil, anisotropyErrorPercent: 0, kept: nil)
        guard let halves = sums.groups[g.number] else {
            r.kept = "no particles of this group were processed: the matrix is kept"
            results.append(r)
            continue
        }
        let all = halves[0] + halves[1]
        r.particles = all.particleCount
        guard all.particleCount >= minimumParticles else {
            r.kept = "\(all.particleCount) particles, fewer than the \(minimumParticles) needed: the matrix is kept"
            results.append(r)
            continue
        }
        guard let estimate = try? MagnificationEstimator.solve(all, previousMatrix: old) else {
            r.kept = "the normal equations are singular (no signal within the weights): the matrix is kept"
            results.append(r)
            continue
        }
        let new = estimate.matrix
        matrices[gi] = new
        let d = estimate.decomposition, u = estimate.uncertainty
        r.newMatrix = [new.m00, new.m01, new.m10, new.m11]
        r.scale = d.isotropicScale
        r.impliedPixelSize = g.imagePixelSize * d.relativePixelSize
        r.impliedPixelSizeError = g.imagePixelSize * u.relativePixelSize
        r.anisotropyPercent = d.anisotropyPercent
        r.anisotropyAxisDegrees = d.majorAxisAngle
        r.anisotropyAxisErrorDegrees = u.majorAxisAngle
        r.amplitudeScale = estimate.amplitudeScale
        r.scaleErrorNormalEquations = u.isotropicScale
        r.anisotropyErrorPercent = u.anisotropyPercent
        if halves[0].particleCount >= minimumParticles / 2 + 1, halves[1].particleCount >= minimumParticles / 2 + 1,
           let e1 = try? MagnificationEstimator.solve(halves[0], previousMatrix: old),
           let e2 = try? MagnificationEstimator.solve(halves[1], previousMatrix: old) {
            let spread = MagnificationUncertainty(halfSet: e1.decomposition, e2.decomposition)
            r.scaleDifferenceBetweenHalves = spread.isotropicScale
            r.impliedPixelSizeHalfSetError = g.imagePixelSize * spread.relativePixelSize
            r.anisotropyHalfSetErrorPercent = spread.anisotropyPercent
        }
        results.append(r)
    }
    return (matrices, results)
}

/// The defocus (U, V in Å, angle in degrees) that keeps the CTF's defocus term on the observed
/// frequencies when the magnification changes from `old` to `new`.
public func carryDefocus(u: Double, v: Double, angleDegrees: Double, old: Matrix2x2, new: Matrix2x2) -> (u: Double, v: Double, angle: Double) {
    guard let newInv = new.inverse else { return (u, v, angleDegrees) }
    let t = old * newInv
    let az = angleDegrees * Double.pi / 180, c = cos(az), s = sin(az)
    // B = Qᵀ diag(u, v) Q, Q = [c s; −s c].
    let bxx = c * c * u + s * s * v, bxy = c * s * (u - v), byy = s * s * u + c * c * v
    // B' = Tᵀ B T.
    let b00 = bxx * t.m00 + bxy * t.m10, b01 = bxx * t.m01 + bxy * t.m11
    let b10 = bxy * t.m00 + byy * t.m10, b11 = bxy * t.m01 + byy * t.m11
    let a = t.m00 * b00 + t.m10 * b10, bb = t.m00 * b01 + t.m10 * b11, d = t.m01 * b01 + t.m11 * b11
    let mean = (a + d) / 2, diff = (((a - d) / 2) * ((a - d) / 2) + bb * bb).squareRoot()
    let theta = 0.5 * atan2(2 * bb, a - d) * 180 / Double.pi
    if u >= v { return (mean + diff, mean - diff, theta) }
    return (mean - diff, mean + diff, theta + 90)
}

/// Writes the new matrices (and, unless `keepAstigmatism`, the carried defocus) into the particle
/// file's document: only the optics rows of groups whose matrix changed and their particles'
/// defocus columns change.
public func applyMagnification(to particles: RefineParticles, matrices: [Matrix2x2?], keepAstigmatism: Bool) throws {
    let groups = particles.optics.groups
    guard let optics = particles.file.document.block("optics") else { return }
    let numbers = try optics.ints("rlnOpticsGroup")
    var changed = [Bool](repeating: false, count: groups.count)
    for (gi, g) in groups.enumerated() {
        let old = g.magMatrix.map(Matrix2x2.init)
        if matrices[gi] != old, matrices[gi] != nil { changed[gi] = true }
    }
    guard changed.contains(true) else { return }
    let labels = ["rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11"]
    for (k, label) in labels.enumerated() {
        var column = [String]()
        for (row, n) in numbers.enumerated() {
            let gi = groups.firstIndex { $0.number == n }
            let m = gi.flatMap { matrices[$0] } ?? .identity
            let v = [m.m00, m.m01, m.m10, m.m11][k]
            if let gi, !changed[gi], let text = optics.string(row: row, label) {
                column.append(text)
            } else {
                column.append(formatFixed(v, decimals: 8))
            }
        }
        optics.setColumn(label, column)
    }
    guard !keepAstigmatism else { return }
    let table = particles.file.particles
    var u = try table.strings("rlnDefocusU"), v = try table.strings("rlnDefocusV"), a = try table.strings("rlnDefocusAngle")
    for r in particles.records where changed[r.groupIndex] {
        let old = groups[r.groupIndex].magMatrix.map(Matrix2x2.init) ?? .identity
        let c = carryDefocus(u: r.defocusU, v: r.defocusV, angleDegrees: r.defocusAngle, old: old, new: matrices[r.groupIndex]!)
        u[r.row] = formatFixed(c.u, decimals: 6)
        v[r.row] = formatFixed(c.v, decimals: 6)
        a[r.row] = formatFixed(c.angle, decimals: 6)
    }
    table.setColumn("rlnDefocusU", u)
    table.setColumn("rlnDefocusV", v)
    table.setColumn("rlnDefocusAngle", a)
}
