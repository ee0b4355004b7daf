// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Electron scattering factors and the real-space density of one atom.
// With f(s) = Σ a_i exp(-b_i s²) (s = |k|/2, k the spatial frequency in Å⁻¹) and a B-factor
// (Debye-Waller factor exp(-B s²)), the inverse Fourier transform is a sum of 3D Gaussians:
//   ρ(r) = Σ a_i (4π / (b_i + B))^{3/2} exp(-4π² r² / (b_i + B)),
// whose integral over space is Σ a_i = f(0) (Å³·Å⁻³·Å: the potential in the same units as f).

import Foundation

/// The five Gaussians of one element (Peng et al. 1996).
public struct ScatteringFactor: Sendable, Equatable {
    public var element: String
    /// Amplitudes a_i (Å).
    public var a: [Double]
    /// Widths b_i (Å²).
    public var b: [Double]

    /// The factor of `element` ("C", "FE", "Fe"; "D" is hydrogen), or nil when the table lacks it.
    public init?(element: String) {
        var e = ElementSymbol.normalise(element)
        if e == "D" { e = "H" }
        guard let entry = pengScatteringFactors[e] else { return nil }
        self.element = e
        a = entry.a
        b = entry.b
    }

    /// f(s), s = sinθ/λ (Å⁻¹).
    public func value(s: Double) -> Double {
        var f = 0.0
        for i in 0..<a.count { f += a[i] * exp(-b[i] * s * s) }
        return f
    }

    /// f(0) = Σ a_i: the integral of the atom's density over space.
    public var forwardScattering: Double { a.reduce(0, +) }

    /// The real-space density at distance r (Å) for a total B (atomic + overall, Å²).
    public func density(r: Double, bFactor: Double) -> Double {
        var rho = 0.0
        for i in 0..<a.count {
            let w = b[i] + bFactor
            rho += a[i] * pow(4 * Double.pi / w, 1.5) * exp(-4 * Double.pi * Double.pi * r * r / w)
        }
        return rho
    }

    /// The radius (Å) beyond which the density is below `fraction` of its peak value.
    public func cutoffRadius(bFactor: Double, fraction: Double = 1e-3) -> Double {
        let peak = density(r: 0, bFactor: bFactor)
        var lo = 0.0, hi = 1.0
        while density(r: hi, bFactor: bFactor) > fraction * peak { hi *= 2 }
        for _ in 0..<40 {
            let mid = 0.5 * (lo + hi)
            if density(r: mid, bFactor: bFactor) > fraction * peak { lo = mid } else { hi = mid }
        }
        return hi
    }
}
