// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Small nonlinear least-squares tools for the CTF fits: a grid search (to find the right basin of
// an oscillating cost) and
// Levenberg–Marquardt (Marquardt 1963, with the diagonal scaling of JᵀJ) in a few dimensions.

import Foundation

/// Levenberg–Marquardt: minimises Σ rᵢ(p)² from `start`. `evaluate(p)` returns the residuals and
/// the Jacobian (one row of ∂rᵢ/∂pⱼ per residual). Returns the parameters and the final cost.
func levenbergMarquardt(start: [Double], maxIterations: Int = 200,
                        evaluate: ([Double]) -> (residuals: [Double], jacobian: [[Double]])) -> (p: [Double], cost: Double) {
    let n = start.count
    var p = start
    var (r, J) = evaluate(p)
    var cost = r.reduce(0) { $0 + $1 * $1 }
    var mu = 1e-3
    for _ in 0..<maxIterations {
        // Normal equations: (JᵀJ + μ diag(JᵀJ)) δ = −Jᵀr.
        var jtj = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        var jtr = [Double](repeating: 0, count: n)
        for (i, row) in J.enumerated() {
            for a in 0..<n {
                jtr[a] += row[a] * r[i]
                for b in 0..<n { jtj[a][b] += row[a] * row[b] }
            }
        }
        var improved = false
        for _ in 0..<30 {
            var m = jtj
            for a in 0..<n { m[a][a] += mu * max(jtj[a][a], 1e-30) }
            guard let delta = solveLinear(m, jtr.map { -$0 }) else { mu *= 10; continue }
            let candidate = zip(p, delta).map { $0 + $1 }
            let (r2, J2) = evaluate(candidate)
            let c2 = r2.reduce(0) { $0 + $1 * $1 }
            if c2.isFinite && c2 < cost {
                let relative = (cost - c2) / max(cost, 1e-300)
                p = candidate; r = r2; J = J2; cost = c2
                mu = max(mu / 10, 1e-12)
                improved = true
                if relative < 1e-15 { return (p, cost) }
                break
            }
            mu *= 10
        }
        if !improved || cost < 1e-28 { break }
    }
    return (p, cost)
}

/// Solves the small dense system A x = b by Gaussian elimination with partial pivoting.
func solveLinear(_ A: [[Double]], _ b: [Double]) -> [Double]? {
    let n = b.count
    var a = A, x = b
    for col in 0..<n {
        var pivot = col
        for row in col..<n where abs(a[row][col]) > abs(a[pivot][col]) { pivot = row }
        guard abs(a[pivot][col]) > 1e-300, a[pivot][col].isFinite else { return nil }
        a.swapAt(col, pivot); x.swapAt(col, pivot)
        for row in (col + 1)..<n {
            let f = a[row][col] / a[col][col]
            for k in col..<n { a[row][k] -= f * a[col][k] }
            x[row] -= f * x[col]
        }
    }
    for row in stride(from: n - 1, through: 0, by: -1) {
        var s = x[row]
        for k in (row + 1)..<n { s -= a[row][k] * x[k] }
        x[row] = s / a[row][row]
    }
    return x
}
