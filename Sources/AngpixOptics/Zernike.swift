// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Zernike polynomials as RELION 3.1 uses them for the aberrations of an optics group
// (src/jaz/math/Zernike.cpp; rlnEvenZernike, rlnOddZernike in data_optics).
//
// Z(m, n)(ρ, φ) = R(|m|, n)(ρ) · cos(m φ) for m ≥ 0, R(|m|, n)(ρ) · sin(|m| φ) for m < 0, with the
// unnormalised radial polynomial R(m, n)(ρ) = Σₖ (−1)ᵏ (n−k)! / (k! ((n+m)/2−k)! ((n−m)/2−k)!) ρⁿ⁻²ᵏ
// (so Z(0, 4) = 6ρ⁴ − 6ρ² + 1). ρ is the spatial frequency in 1/Å itself (not scaled to a pupil),
// so a coefficient is a phase in radians per Åⁿ.
//
// RELION's order of the coefficients:
//   even index i: k = ⌊√i⌋, n = 2k, m = 2(i − k² − k)  → (0,0) (−2,2) (0,2) (2,2) (−4,4) (−2,4) (0,4) …
//   odd index i:  k = ⌊(√(1+4i) − 1)/2⌋, n = 2k+1, m = 2(i − k² − k) − n → (−1,1) (1,1) (−3,3) (−1,3) (1,3) (3,3) …
// The 7th even coefficient (index 6) is Z40, the spherical-aberration term.

import Foundation

/// Zernike polynomials and RELION's ordering of even and odd aberration coefficients.
public enum Zernike {
    /// The (m, n) of RELION's even coefficient number `index` (0-based).
    public static func evenIndexToMN(_ index: Int) -> (m: Int, n: Int) {
        precondition(index >= 0)
        var k = Int(Double(index).squareRoot())
        while (k + 1) * (k + 1) <= index { k += 1 }
        while k * k > index { k -= 1 }
        return (2 * (index - k * k - k), 2 * k)
    }

    /// The (m, n) of RELION's odd coefficient number `index` (0-based).
    public static func oddIndexToMN(_ index: Int) -> (m: Int, n: Int) {
        precondition(index >= 0)
        var k = Int(((1 + 4 * Double(index)).squareRoot() - 1) / 2)
        while (k + 1) * (k + 2) <= index { k += 1 }
        while k * (k + 1) > index { k -= 1 }
        let n = 2 * k + 1
        return (2 * (index - k * k - k) - n, n)
    }

    /// The index of Z(m, n) in RELION's even order, or nil if (m, n) is not an even term.
    public static func evenIndex(m: Int, n: Int) -> Int? {
        guard n >= 0, n % 2 == 0, abs(m) <= n, m % 2 == 0 else { return nil }
        let k = n / 2
        return k * k + k + m / 2
    }

    /// The index of Z(m, n) in RELION's odd order, or nil if (m, n) is not an odd term.
    public static func oddIndex(m: Int, n: Int) -> Int? {
        guard n >= 1, n % 2 == 1, abs(m) <= n, (m + n) % 2 == 0 else { return nil }
        let k = (n - 1) / 2
        return k * k + k + (m + n) / 2
    }

    /// The index of Z40 among the even coefficients (6: "the 7th number in rlnEvenZernike").
    public static let z40Index = 6

    /// The coefficients of the radial polynomial R(m, n) as (power, coefficient) pairs.
    public static func radialCoefficients(m: Int, n: Int) -> [(power: Int, coefficient: Double)] {
        let m = abs(m)
        guard m <= n, (n - m) % 2 == 0 else { return [] }
        var out: [(Int, Double)] = []
        for k in 0...((n - m) / 2) {
            let sign: Double = k % 2 == 0 ? 1 : -1
            let c = sign * factorial(n - k) / (factorial(k) * factorial((n + m) / 2 - k) * factorial((n - m) / 2 - k))
            out.append((n - 2 * k, c))
        }
        return out
    }

    /// R(m, n)(ρ).
    public static func radial(m: Int, n: Int, rho: Double) -> Double {
        var sum = 0.0
        for (p, c) in radialCoefficients(m: m, n: n) { sum += c * pow(rho, Double(p)) }
        return sum
    }

    /// Z(m, n) at polar coordinates (ρ, φ).
    public static func value(m: Int, n: Int, rho: Double, phi: Double) -> Double {
        m >= 0 ? radial(m: m, n: n, rho: rho) * cos(Double(m) * phi)
               : radial(m: -m, n: n, rho: rho) * sin(Double(-m) * phi)
    }

    /// Z(m, n) at Cartesian coordinates (x, y) (φ = atan2(y, x), and 0 at the origin).
    public static func value(m: Int, n: Int, x: Double, y: Double) -> Double {
        let rho = (x * x + y * y).squareRoot()
        let phi = (x == 0 && y == 0) ? 0 : atan2(y, x)
        return value(m: m, n: n, rho: rho, phi: phi)
    }

    /// Σᵢ coefficients[i] · Z(evenIndexToMN(i)) at (x, y): the even aberration phase (radians).
    public static func evenPhase(_ coefficients: [Double], x: Double, y: Double) -> Double {
        var sum = 0.0
        for (i, c) in coefficients.enumerated() where c != 0 {
            let (m, n) = evenIndexToMN(i)
            sum += c * value(m: m, n: n, x: x, y: y)
        }
        return sum
    }

    /// Σᵢ coefficients[i] · Z(oddIndexToMN(i)) at (x, y): the odd (antisymmetric) aberration phase (radians).
    public static func oddPhase(_ coefficients: [Double], x: Double, y: Double) -> Double {
        var sum = 0.0
        for (i, c) in coefficients.enumerated() where c != 0 {
            let (m, n) = oddIndexToMN(i)
            sum += c * value(m: m, n: n, x: x, y: y)
        }
        return sum
    }

    private static func factorial(_ k: Int) -> Double {
        var out = 1.0
        if k >= 2 { for i in 2...k { out *= Double(i) } }
        return out
    }
}

/// A fixed sum Σ cᵢ Z(mᵢ, nᵢ) prepared for fast evaluation at many points: the radial
/// coefficients are computed once, and per point ρ's powers and cos/sin(kφ) come from recurrences.
public struct ZernikeExpansion: Sendable {
    struct Term: Sendable {
        var m: Int
        /// c · radial coefficient, indexed by power of ρ (0…n).
        var weightedRadial: [Double]
    }
    let terms: [Term]
    let maxN: Int

    /// The expansion of RELION-ordered even (`odd` false) or odd (`odd` true) coefficients.
    public init(coefficients: [Double], odd: Bool) {
        var terms: [Term] = []
        var maxN = 0
        for (i, c) in coefficients.enumerated() where c != 0 {
            let (m, n) = odd ? Zernike.oddIndexToMN(i) : Zernike.evenIndexToMN(i)
            var w = [Double](repeating: 0, count: n + 1)
            for (p, rc) in Zernike.radialCoefficients(m: m, n: n) { w[p] += c * rc }
            terms.append(Term(m: m, weightedRadial: w))
            maxN = max(maxN, n)
        }
        self.terms = terms
        self.maxN = maxN
    }

    public var isEmpty: Bool { terms.isEmpty }

    /// The sum at Cartesian (x, y) (φ = atan2(y, x), 0 at the origin, as RELION's Z_cart).
    public func value(x: Double, y: Double) -> Double {
        if terms.isEmpty { return 0 }
        let rho = (x * x + y * y).squareRoot()
        let c1 = rho > 0 ? x / rho : 1, s1 = rho > 0 ? y / rho : 0
        let n = maxN
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * (n + 1)) { buf in
            // buf[0…n]: ρᵏ; buf[n+1…2n+1]: cos kφ; buf[2n+2…3n+2]: sin kφ.
            buf[0] = 1; buf[n + 1] = 1; buf[2 * n + 2] = 0
            if n >= 1 {
                for k in 1...n {
                    buf[k] = buf[k - 1] * rho
                    let cp = buf[n + 1 + k - 1], sp = buf[2 * n + 2 + k - 1]
                    buf[n + 1 + k] = cp * c1 - sp * s1
                    buf[2 * n + 2 + k] = sp * c1 + cp * s1
                }
            }
            var sum = 0.0
            for t in terms {
                var r = 0.0
                let w = t.weightedRadial
                for p in stride(from: w.count - 1, through: 0, by: -1) where w[p] != 0 { r += w[p] * buf[p] }
                let am = abs(t.m)
                sum += t.m >= 0 ? r * buf[n + 1 + am] : r * buf[2 * n + 2 + am]
            }
            return sum
        }
    }
}
