// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// PLACEHOLDER, to be replaced by the estim branch's MagnificationEstimator when the branches are
// merged: a small, direct version of the magnification fit so that the pipeline, the CLI, the
// shards and their merge can be tested end to end. It accumulates, per optics group and half
// set, the weighted normal equations of the linearised model
//     y ≈ c · (a f + g · (D k)),   a = 1 + θ₄ (amplitude scale), D = [θ₀ θ₁; θ₂ θ₃],
// over every pixel (g = ∂f/∂k on the observed grid, so the update is M_new = M_old · (I + D)),
// and solves the 5 × 5 system. The sums are plain Doubles, Codable, and additive.

import Foundation
import AngpixFourier
import AngpixOptics

/// The additive sums of the placeholder magnification fit for one optics group and half set.
public struct MagnificationSums: Codable, Sendable, Equatable {
    /// Σ w c² Re(φ φᴴ) (5 × 5, row-major), φ = (g_x k_x, g_x k_y, g_y k_x, g_y k_y, f).
    public var normal = [Double](repeating: 0, count: 25)
    /// Σ w c Re(conj(φ) (y − c f)).
    public var rhs = [Double](repeating: 0, count: 5)
    /// Σ w |y − c f|² and the number of weighted pixel values.
    public var residual = 0.0
    public var pixels = 0
    /// Particles added.
    public var particles = 0

    public init() {}

    public mutating func add(_ o: MagnificationSums) {
        for i in 0..<25 { normal[i] += o.normal[i] }
        for i in 0..<5 { rhs[i] += o.rhs[i] }
        residual += o.residual
        pixels += o.pixels
        particles += o.particles
    }
}

/// Per optics group (by number) and half set (index 0, 1): the placeholder's accumulator.
public struct PlaceholderMagnificationAccumulator: ObservationAccumulator, Codable {
    /// Sums by optics group number, then by half set.
    public var groups: [Int: [MagnificationSums]] = [:]
    let weights: [Int: FrequencyWeights]

    public init(weights: [Int: FrequencyWeights]) { self.weights = weights }

    enum CodingKeys: String, CodingKey { case groups }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        groups = try c.decode([Int: [MagnificationSums]].self, forKey: .groups)
        weights = [:]
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(groups, forKey: .groups)
    }

    public mutating func add(micrograph: String, observations: [ParticleObservation]) throws {
        for o in observations {
            guard let w = weights[o.opticsGroup], let gx = o.gradientX, let gy = o.gradientY else { continue }
            let ctf = try CTF(o.ctf)
            var s = MagnificationSums()
            var phi = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)   // re, im of 5 values
            try o.observed.withUnsafeBufferPointer { yb in
            try o.predicted.withUnsafeBufferPointer { fb in
            try gx.withUnsafeBufferPointer { gxb in
            try gy.withUnsafeBufferPointer { gyb in
            try w.values.withUnsafeBufferPointer { wb in
            try withUnsafeMutableBytes(of: &phi) { raw in
                let ph = raw.bindMemory(to: Double.self)
                guard wb.count >= o.spectrumCount else { throw RefineError.invalidOption("weights of box \(w.boxSize) for a particle of box \(o.boxSize)") }
                for idx in 0..<o.spectrumCount {
                    let wi = Double(wb[idx])
                    if wi == 0 { continue }
                    let k = o.frequency(ofIndex: idx)
                    let c = ctf.value(x: k.x, y: k.y)
                    let f = fb[idx], y = yb[idx], gxv = gxb[idx], gyv = gyb[idx]
                    ph[0] = Double(gxv.re) * k.x; ph[1] = Double(gxv.im) * k.x
                    ph[2] = Double(gxv.re) * k.y; ph[3] = Double(gxv.im) * k.y
                    ph[4] = Double(gyv.re) * k.x; ph[5] = Double(gyv.im) * k.x
                    ph[6] = Double(gyv.re) * k.y; ph[7] = Double(gyv.im) * k.y
                    ph[8] = Double(f.re); ph[9] = Double(f.im)
                    let rre = Double(y.re) - c * Double(f.re), rim = Double(y.im) - c * Double(f.im)
                    let wc2 = wi * c * c, wc = wi * c
                    for a in 0..<5 {
                        let ar = ph[2 * a], ai = ph[2 * a + 1]
                        for b in a..<5 {
                            s.normal[a * 5 + b] += wc2 * (ar * ph[2 * b] + ai * ph[2 * b + 1])
                        }
                        s.rhs[a] += wc * (ar * rre + ai * rim)
                    }
                    s.residual += wi * (rre * rre + rim * rim)
                    s.pixels += 2
                }
            } } } } } }
            for a in 0..<5 { for b in 0..<a { s.normal[a * 5 + b] = s.normal[b * 5 + a] } }
            s.particles = 1
            var list = groups[o.opticsGroup] ?? [MagnificationSums(), MagnificationSums()]
            list[o.randomSubset == 2 ? 1 : 0].add(s)
            groups[o.opticsGroup] = list
        }
    }

    public mutating func merge(_ other: PlaceholderMagnificationAccumulator) throws {
        for (g, list) in other.groups {
            var mine = groups[g] ?? [MagnificationSums(), MagnificationSums()]
            for h in 0..<2 { mine[h].add(list[h]) }
            groups[g] = mine
        }
    }
}

/// The solution of one group's normal equations.
public struct MagnificationSolution: Sendable, Codable, Equatable {
    /// D (row-major 2 × 2): M_new = M_old · (I + D).
    public var d: [Double]
    /// The fitted amplitude scale a.
    public var amplitudeScale: Double
    /// Standard errors of the five parameters from the normal equations.
    public var standardErrors: [Double]
}

/// Solves the 5 × 5 system of `sums` (nil when singular or empty).
public func solveMagnification(_ sums: MagnificationSums) -> MagnificationSolution? {
    guard sums.particles > 0, sums.pixels > 10 else { return nil }
    guard let inv = invertSymmetric(sums.normal, 5) else { return nil }
    var theta = [Double](repeating: 0, count: 5)
    for i in 0..<5 { for j in 0..<5 { theta[i] += inv[i * 5 + j] * sums.rhs[j] } }
    let fitted = zip(theta, sums.rhs).reduce(0) { $0 + $1.0 * $1.1 }
    let sigma2 = max(0, sums.residual - fitted) / Double(max(1, sums.pixels - 5))
    let errors = (0..<5).map { (max(0, inv[$0 * 5 + $0]) * sigma2).squareRoot() }
    return MagnificationSolution(d: Array(theta[0..<4]), amplitudeScale: 1 + theta[4], standardErrors: errors)
}

/// Gauss–Jordan inverse of an n × n matrix (row-major); nil when singular.
func invertSymmetric(_ a: [Double], _ n: Int) -> [Double]? {
    var m = a, inv = [Double](repeating: 0, count: n * n)
    for i in 0..<n { inv[i * n + i] = 1 }
    let scale = (0..<n).map { abs(a[$0 * n + $0]) }.max() ?? 0
    guard scale > 0 else { return nil }
    for col in 0..<n {
        var pivot = col
        for r in col..<n where abs(m[r * n + col]) > abs(m[pivot * n + col]) { pivot = r }
        guard abs(m[pivot * n + col]) > 1e-14 * scale else { return nil }
        if pivot != col {
            for k in 0..<n {
                m.swapAt(pivot * n + k, col * n + k)
                inv.swapAt(pivot * n + k, col * n + k)
            }
        }
        let p = m[col * n + col]
        for k in 0..<n { m[col * n + k] /= p; inv[col * n + k] /= p }
        for r in 0..<n where r != col {
            let f = m[r * n + col]
            if f == 0 { continue }
            for k in 0..<n { m[r * n + k] -= f * m[col * n + k]; inv[r * n + k] -= f * inv[col * n + k] }
        }
    }
    return inv
}
