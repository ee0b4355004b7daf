// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The C library's rand() as glibc implements it (the TYPE_3 additive feedback generator of
// random_r.c: 34-word state seeded by the Park–Miller "minimal standard" LCG, r[i] = r[i-3] +
// r[i-31] mod 2³², output r >> 1, RAND_MAX = 2³¹ − 1).
//
// relion_postprocess calls srand(--random_seed, default 0) and draws each randomised phase as
// rnd_unif(0, 2π) = (float)rand() / (float)(RAND_MAX / (float)2π). Reproducing that sequence
// lets angpix give the same phase-randomised FSC as RELION 3.1.3 on Linux, voxel for voxel,
// instead of only the same statistics.

/// glibc's `rand()` sequence for a given `srand` seed (seed 0 behaves as 1, as in glibc).
public struct GlibcRandom: Sendable {
    private var state: [UInt32]   // ring of the last 34 outputs of the recurrence
    private var index = 0

    /// The largest value `next()` returns (glibc's RAND_MAX).
    public static let randMax: Int32 = 2_147_483_647

    /// The generator after `srand(seed)`.
    public init(seed: UInt32) {
        var r = [Int32](repeating: 0, count: 344)
        r[0] = Int32(bitPattern: seed == 0 ? 1 : seed)
        for i in 1..<31 {
            // 16807 * r[i-1] % 2147483647 without overflow (Schrage's method, as glibc does).
            let prev = Int64(r[i - 1])
            let hi = prev / 127_773
            let lo = prev % 127_773
            var word = 16_807 * lo - 2_836 * hi
            if word < 0 { word += 2_147_483_647 }
            r[i] = Int32(truncatingIfNeeded: word)
        }
        for i in 31..<34 { r[i] = r[i - 31] }
        var u = r.map { UInt32(bitPattern: $0) }
        for i in 34..<344 { u[i] = u[i - 31] &+ u[i - 3] }
        state = Array(u[(344 - 34)..<344])
    }

    /// The next value of `rand()`, in 0...RAND_MAX.
    public mutating func next() -> Int32 {
        // state holds u[k-34 ..< k] as a ring starting at `index`.
        var i31 = index + 3, i3 = index + 31       // positions of u[k−31] and u[k−3]
        if i31 >= 34 { i31 -= 34 }
        if i3 >= 34 { i3 -= 34 }
        let v = state[i31] &+ state[i3]
        state[index] = v
        index = index == 33 ? 0 : index + 1
        return Int32(bitPattern: v >> 1)
    }

    /// RELION's `rnd_unif(0, 2π)`: a phase in radians computed in single precision, as RELION does.
    public mutating func relionPhase() -> Float {
        let twoPi = Float(2.0 * Double.pi)
        let divisor = Float(GlibcRandom.randMax) / twoPi
        return Float(next()) / divisor
    }
}
