// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
// a tiny generator whose whole state is one 64-bit word, so synthetic maps, the demo's data and
// property tests are the same for a given seed on every machine and every run.

#if canImport(Glibc)
import Glibc
#endif

/// A reproducible random generator for synthetic data and tests (not for anything secret).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }

    /// Two independent standard normal values (Box–Muller).
    public mutating func normalPair() -> (Double, Double) {
        let u1 = max(unit(), 1e-300), u2 = unit()
        let r = (-2 * log(u1)).squareRoot()
        return (r * cos(2 * Double.pi * u2), r * sin(2 * Double.pi * u2))
    }

    /// One standard normal value (the first of a Box–Muller pair).
    public mutating func gaussian() -> Double {
        let u1 = max(unit(), 1e-300), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
