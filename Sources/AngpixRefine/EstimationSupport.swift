// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What the optics estimators share: their error type, the checks that per-group sums belong
// together, small dense linear algebra, Zernike bases on a half-complex grid (evaluated at M·k in
// 1/Å, as AngpixOptics' CTF and RELION 3.1's TiltHelper::computeEvenZernike do), and the
// propagation of a covariance through a function.

import Foundation
import AngpixOptics

/// Why an optics estimate could not be made or sums could not be combined.
public enum EstimationError: Error, Equatable, CustomStringConvertible {
    /// Sums or weights of different optics groups, box sizes, pixel sizes or fit orders were combined.
    case incompatible(String)
    /// A particle's spectra do not match its box size (or lack the gradients the fit needs).
    case badObservation(row: Int, reason: String)
    /// The data do not determine the parameters (no weighted signal, or a singular system).
    case underdetermined(String)

    public var description: String {
        switch self {
        case .incompatible(let s): return "cannot combine the estimation sums: \(s)"
        case .badObservation(let row, let reason): return "particle row \(row): \(reason)"
        case .underdetermined(let s): return "the data do not determine the estimate: \(s)"
        }
    }
}

/// The per-pixel grid description every accumulator carries, so shards can be checked before merging.
public struct SpectrumGrid: Codable, Sendable, Equatable {
    /// The optics group (rlnOpticsGroup).
    public var opticsGroup: Int
    /// The box size s (pixels).
    public var boxSize: Int
    /// The nominal pixel size (Å) of the group (rlnImagePixelSize).
    public var pixelSize: Double

    public init(opticsGroup: Int, boxSize: Int, pixelSize: Double) {
        self.opticsGroup = opticsGroup
        self.boxSize = boxSize
        self.pixelSize = pixelSize
    }

    /// s · (s/2 + 1).
    public var count: Int { boxSize * (boxSize / 2 + 1) }

    /// The frequency (1/Å) of half-complex value `index` (the layout of `ParticleObservation`).
    @inlinable public func frequency(ofIndex index: Int) -> (x: Double, y: Double) {
        let hx = boxSize / 2 + 1
        let j = index / hx, i = index - j * hx
        let extent = Double(boxSize) * pixelSize
        let fy = j <= boxSize / 2 ? j : j - boxSize
        return (Double(i) / extent, Double(fy) / extent)
    }

    func check(_ other: SpectrumGrid) throws {
        guard self == other else {
            throw EstimationError.incompatible("group \(opticsGroup) box \(boxSize) at \(pixelSize) Å vs group \(other.opticsGroup) box \(other.boxSize) at \(other.pixelSize) Å")
        }
    }

    func check(_ p: ParticleObservation, weights: FrequencyWeights, needsGradients: Bool = false) throws {
        guard p.opticsGroup == opticsGroup, p.boxSize == boxSize, p.pixelSize == pixelSize else {
            throw EstimationError.incompatible("particle row \(p.row) (group \(p.opticsGroup), box \(p.boxSize), \(p.pixelSize) Å) added to the sums of group \(opticsGroup), box \(boxSize), \(pixelSize) Å")
        }
        guard weights.boxSize == boxSize, weights.values.count == count else {
            throw EstimationError.incompatible("weights of box \(weights.boxSize) for box \(boxSize)")
        }
        guard p.observed.count == count, p.predicted.count == count else {
            throw EstimationError.badObservation(row: p.row, reason: "spectra of \(p.observed.count) and \(p.predicted.count) values, expected \(count)")
        }
        if needsGradients {
            guard let gx = p.gradientX, let gy = p.gradientY, gx.count == count, gy.count == count else {
                throw EstimationError.badObservation(row: p.row, reason: "the magnification fit needs the prediction's gradients")
            }
        }
    }
}

/// Adds `b` into `a` element by element (same length).
@inline(__always) func addInPlace(_ a: inout [Double], _ b: [Double]) {
    for i in a.indices { a[i] += b[i] }
}

enum DenseAlgebra {
    /// Solves A x = b (Gaussian elimination with partial pivoting); nil when singular.
    static func solve(_ A: [[Double]], _ b: [Double]) -> [Double]? {
        let n = b.count
        var a = A, x = b
        var scale = 0.0
        for row in a { for v in row { scale = max(scale, abs(v)) } }
        guard scale > 0, scale.isFinite else { return nil }
        for col in 0..<n {
            var pivot = col
            for row in col..<n where abs(a[row][col]) > abs(a[pivot][col]) { pivot = row }
            guard abs(a[pivot][col]) > scale * 1e-14 else { return nil }
            a.swapAt(col, pivot); x.swapAt(col, pivot)
            for row in (col + 1)..<n {
                let f = a[row][col] / a[col][col]
                if f == 0 { continue }
                for k in col..<n { a[row][k] -= f * a[col][k] }
                x[row] -= f * x[col]
            }
        }
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = x[row]
            for k in (row + 1)..<n { s -= a[row][k] * x[k] }
            x[row] = s / a[row][row]
        }
        return x.allSatisfy(\.isFinite) ? x : nil
    }

    /// The inverse of A; nil when singular.
    static func inverse(_ A: [[Double]]) -> [[Double]]? {
        let n = A.count
        var columns: [[Double]] = []
        for j in 0..<n {
            var e = [Double](repeating: 0, count: n)
            e[j] = 1
            guard let c = solve(A, e) else { return nil }
            columns.append(c)
        }
        return (0..<n).map { i in (0..<n).map { j in columns[j][i] } }
    }

    /// The standard errors √diag(C).
    static func standardErrors(_ C: [[Double]]) -> [Double] {
        C.indices.map { max(0, C[$0][$0]).squareRoot() }
    }

    /// J C Jᵀ for the function `f` of the parameters `p` with covariance `C` (central differences
    /// with steps `steps`); `wrap[k]` gives a period for outputs that are angles (e.g. 180°).
    static func propagate(_ p: [Double], covariance C: [[Double]], steps: [Double],
                          wrap: [Double?] = [], _ f: ([Double]) -> [Double]) -> [[Double]] {
        let base = f(p)
        let m = base.count, n = p.count
        var J = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
        for j in 0..<n {
            var pp = p, pm = p
            pp[j] += steps[j]; pm[j] -= steps[j]
            let vp = f(pp), vm = f(pm)
            for k in 0..<m {
                var d = vp[k] - vm[k]
                if k < wrap.count, let period = wrap[k] {
                    while d > period / 2 { d -= period }
                    while d < -period / 2 { d += period }
                }
                J[k][j] = d / (2 * steps[j])
            }
        }
        var out = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        for a in 0..<m { for b in 0..<m {
            var s = 0.0
            for i in 0..<n { for j in 0..<n { s += J[a][i] * C[i][j] * J[b][j] } }
            out[a][b] = s
        } }
        return out
    }
}

/// Zernike polynomials on a half-complex grid, evaluated at M·k (k in 1/Å), in RELION's order.
enum ZernikeBasis {
    /// `count` images of s · (s/2 + 1) values: Z_c(M k) for the even (`odd` false) or odd terms.
    static func images(grid: SpectrumGrid, magMatrix: Matrix2x2, count: Int, odd: Bool) -> [[Double]] {
        (0..<count).map { c in
            let (m, n) = odd ? Zernike.oddIndexToMN(c) : Zernike.evenIndexToMN(c)
            return (0..<grid.count).map { i in
                let k = grid.frequency(ofIndex: i)
                let q = magMatrix.apply(k.x, k.y)
                return Zernike.value(m: m, n: n, x: q.x, y: q.y)
            }
        }
    }

    /// The number of even coefficients up to radial order `order` (4 → 9, 6 → 16).
    static func evenCount(order: Int) -> Int { (order / 2 + 1) * (order / 2 + 1) }
    /// The number of odd coefficients up to radial order `order` (3 → 6, 5 → 12).
    static func oddCount(order: Int) -> Int { let k = (order - 1) / 2; return (k + 1) * (k + 2) }

    /// RELION's first step of both aberration fits: the weighted linear least-squares fit of a
    /// per-pixel phase by the `basis` images over the pixels `used`.
    static func linearFit(basis: [[Double]], phase: [Double], weight: [Double], used: [Int], opticsGroup: Int) throws -> [Double] {
        let cc = basis.count
        guard used.count > cc else {
            throw EstimationError.underdetermined("optics group \(opticsGroup): \(used.count) pixels with signal for \(cc) coefficients")
        }
        var A = [[Double]](repeating: [Double](repeating: 0, count: cc), count: cc)
        var b = [Double](repeating: 0, count: cc)
        for i in used { addChainRule(&b, &A, basis: basis, pixel: i, gradient: weight[i] * phase[i], curvature: weight[i]) }
        guard let linear = DenseAlgebra.solve(symmetrised(A), b) else {
            throw EstimationError.underdetermined("optics group \(opticsGroup): the Zernike basis is singular on the weighted pixels")
        }
        return linear
    }

    /// The phase Σ c_j Z_j at pixel `i`.
    @inline(__always) static func phase(_ c: [Double], _ basis: [[Double]], pixel i: Int) -> Double {
        var d = 0.0
        for j in 0..<c.count { d += c[j] * basis[j][i] }
        return d
    }

    /// Adds one pixel's d cost/dφ (`gradient`) and d²cost/dφ² (`curvature`) to the coefficients'
    /// gradient g and (upper triangle of) H, with φ = Σ c_j Z_j.
    @inline(__always) static func addChainRule(_ g: inout [Double], _ H: inout [[Double]], basis: [[Double]], pixel i: Int,
                                               gradient: Double, curvature: Double) {
        for a in 0..<basis.count {
            let za = basis[a][i]
            if za == 0 { continue }
            g[a] += gradient * za
            for bb in a..<basis.count { H[a][bb] += curvature * za * basis[bb][i] }
        }
    }

    /// H with its lower triangle copied from the upper.
    static func symmetrised(_ H: [[Double]]) -> [[Double]] {
        var out = H
        for a in 0..<H.count { for bb in 0..<a { out[a][bb] = H[bb][a] } }
        return out
    }
}

/// Levenberg–Marquardt on a cost given as (cost, gradient, Gauss–Newton matrix) of the parameters.
/// Returns the parameters and the Gauss–Newton matrix at the end.
func minimiseGaussNewton(start: [Double], maxIterations: Int = 60,
                         evaluate: ([Double]) -> (cost: Double, gradient: [Double], hessian: [[Double]])) -> (p: [Double], cost: Double, hessian: [[Double]]) {
    var p = start
    var (cost, g, H) = evaluate(p)
    var mu = 1e-4
    let n = p.count
    for _ in 0..<maxIterations {
        var improved = false
        for _ in 0..<20 {
            var m = H
            for a in 0..<n { m[a][a] += mu * max(H[a][a], 1e-300) }
            guard let step = DenseAlgebra.solve(m, g.map { -$0 }) else { mu *= 10; continue }
            let candidate = zip(p, step).map { $0 + $1 }
            let e = evaluate(candidate)
            if e.cost.isFinite && e.cost <= cost {
                let gain = cost - e.cost
                p = candidate; cost = e.cost; g = e.gradient; H = e.hessian
                mu = max(mu / 10, 1e-12)
                improved = true
                if gain <= 1e-13 * max(abs(cost), 1e-300) { return (p, cost, H) }
                break
            }
            mu *= 10
        }
        if !improved { break }
    }
    return (p, cost, H)
}
