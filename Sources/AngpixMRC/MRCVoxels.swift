// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Conversion of MRC voxel data between the file's mode and byte order and Float (MRC2014 modes
// 0, 1, 2, 6, 12 and IMOD's 4-bit mode 101). Rows of mode 101 start on a byte boundary: with an odd
// NX the last byte of each row holds one voxel, in its low four bits.

import AngpixCore

/// Converts voxel bytes of one mode and byte order to and from Float.
public enum MRCVoxels {
    /// Decodes `rows` rows of `nx` voxels from `source` into `destination` (nx·rows Floats).
    /// `unsignedBytes` reads mode 0 as unsigned (IMOD files whose signed flag is clear; see
    /// `MRCHeader.bytesAreUnsigned`); mode 0 is signed otherwise.
    public static func decode(_ source: UnsafeRawPointer, mode: MRCMode, order: MRCByteOrder, nx: Int, rows: Int,
                              unsignedBytes: Bool = false, into destination: UnsafeMutablePointer<Float>) {
        let n = nx * rows
        let swap = order != .native
        switch mode {
        case .float32:
            if !swap {
                UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: 4 * n)
            } else {
                for k in 0..<n {
                    let raw = source.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)
                    destination[k] = Float(bitPattern: raw.byteSwapped)
                }
            }
        case .int8:
            if unsignedBytes {
                let p = source.assumingMemoryBound(to: UInt8.self)
                for k in 0..<n { destination[k] = Float(p[k]) }
            } else {
                let p = source.assumingMemoryBound(to: Int8.self)
                for k in 0..<n { destination[k] = Float(p[k]) }
            }
        case .int16:
            for k in 0..<n {
                var raw = source.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)
                if swap { raw = raw.byteSwapped }
                destination[k] = Float(Int16(bitPattern: raw))
            }
        case .uint16:
            for k in 0..<n {
                var raw = source.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)
                if swap { raw = raw.byteSwapped }
                destination[k] = Float(raw)
            }
        case .float16:
            for k in 0..<n {
                var raw = source.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)
                if swap { raw = raw.byteSwapped }
                destination[k] = Float(Float16(bitPattern: raw))
            }
        case .uint4:
            let bytesPerRow = (nx + 1) / 2
            let p = source.assumingMemoryBound(to: UInt8.self)
            for r in 0..<rows {
                let row = p + r * bytesPerRow
                let out = destination + r * nx
                for x in 0..<nx {
                    let byte = row[x >> 1]
                    out[x] = Float((x & 1) == 0 ? byte & 0x0F : byte >> 4)
                }
            }
        }
    }

    /// Encodes `count` Floats into `destination` in `mode` and `order` (rounded and clamped for
    /// integer modes). Mode 101 is not written.
    public static func encode(_ source: UnsafePointer<Float>, count n: Int, mode: MRCMode, order: MRCByteOrder,
                              into destination: UnsafeMutableRawPointer) {
        let swap = order != .native
        switch mode {
        case .float32:
            if !swap {
                destination.copyMemory(from: source, byteCount: 4 * n)
            } else {
                for k in 0..<n { destination.storeBytes(of: source[k].bitPattern.byteSwapped, toByteOffset: 4 * k, as: UInt32.self) }
            }
        case .int8:
            for k in 0..<n {
                destination.storeBytes(of: Int8(clamped(source[k], -128, 127)), toByteOffset: k, as: Int8.self)
            }
        case .int16:
            for k in 0..<n {
                let v = UInt16(bitPattern: Int16(clamped(source[k], -32768, 32767)))
                destination.storeBytes(of: swap ? v.byteSwapped : v, toByteOffset: 2 * k, as: UInt16.self)
            }
        case .uint16:
            for k in 0..<n {
                let v = UInt16(clamped(source[k], 0, 65535))
                destination.storeBytes(of: swap ? v.byteSwapped : v, toByteOffset: 2 * k, as: UInt16.self)
            }
        case .float16:
            for k in 0..<n {
                let v = Float16(source[k]).bitPattern
                destination.storeBytes(of: swap ? v.byteSwapped : v, toByteOffset: 2 * k, as: UInt16.self)
            }
        case .uint4:
            preconditionFailure("mode 101 is read-only")
        }
    }

    @inline(__always)
    static func clamped(_ v: Float, _ lo: Float, _ hi: Float) -> Float {
        if v.isNaN { return 0 }
        return min(hi, max(lo, v.rounded()))
    }
}

/// Minimum, maximum, mean and RMS deviation from the mean of some values (MRC2014 DMIN, DMAX, DMEAN, RMS).
///
/// The one place angpix computes these (map info, the validator, every header it writes). Values
/// on a large offset (a scan image of counts near 3·10⁵, a map shifted by 10⁷) must not lose the
/// spread to rounding, as Σx² − n·mean² does in Float or Double: each block of 1024 values is
/// done in two passes in Double (its mean, then the sum of squared deviations from it), and
/// blocks and threads are merged with the pairwise update of Chan, Golub & LeVeque (1979):
/// M2 = M2a + M2b + δ²·na·nb/n, δ = mean_b − mean_a. The result agrees with a two-pass Double
/// computation (numpy's `std`, which mrcfile uses) to about 1e-12 relative.
public struct MRCStatistics: Sendable, Equatable, Codable {
    public var count: Int = 0
    public var min: Double = .infinity
    public var max: Double = -.infinity
    /// The mean of the finite values (0 when there are none).
    public private(set) var mean: Double = 0
    /// The sum of squared deviations from the mean.
    public private(set) var sumOfSquaredDeviations: Double = 0
    /// Values that are NaN or infinite (left out of the other figures).
    public var nonFinite: Int = 0

    public init() {}

    /// The sum of the finite values.
    public var sum: Double { mean * Double(count) }

    /// The standard deviation from the mean (what MRC2014 calls RMS; numpy's std, ddof 0).
    public var rms: Double {
        guard count > 0 else { return 0 }
        return (Swift.max(0, sumOfSquaredDeviations) / Double(count)).squareRoot()
    }

    /// Adds `values`.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        guard let base = values.baseAddress, values.count > 0 else { return }
        let n = values.count
        var k = 0
        while k < n {
            let end = Swift.min(n, k + 1024)
            var block = MRCStatistics()
            // Pass 1: count, min, max, sum of the finite values.
            var s = 0.0, lo = Double.infinity, hi = -Double.infinity, c = 0, bad = 0
            for j in k..<end {
                let v = base[j]
                if v.isFinite {
                    let d = Double(v)
                    s += d; c += 1
                    if d < lo { lo = d }
                    if d > hi { hi = d }
                } else {
                    bad += 1
                }
            }
            block.nonFinite = bad
            if c > 0 {
                let m = s / Double(c)
                // Pass 2: squared deviations from the block's mean.
                var m2 = 0.0, comp = 0.0
                for j in k..<end {
                    let v = base[j]
                    if v.isFinite {
                        let d = Double(v) - m
                        m2 += d * d
                        comp += d
                    }
                }
                // comp (the sum of deviations, ~0) corrects the mean's rounding (Björck's update).
                block.count = c
                block.min = lo; block.max = hi
                block.mean = m + comp / Double(c)
                block.sumOfSquaredDeviations = Swift.max(0, m2 - comp * comp / Double(c))
            }
            merge(block)
            k = end
        }
    }

    /// Adds another set of statistics.
    public mutating func merge(_ other: MRCStatistics) {
        nonFinite += other.nonFinite
        guard other.count > 0 else { return }
        guard count > 0 else {
            let bad = nonFinite
            self = other
            nonFinite = bad
            return
        }
        let na = Double(count), nb = Double(other.count), n = na + nb
        let delta = other.mean - mean
        mean += delta * nb / n
        sumOfSquaredDeviations += other.sumOfSquaredDeviations + delta * delta * na * nb / n
        count += other.count
        min = Swift.min(min, other.min); max = Swift.max(max, other.max)
    }

    /// The statistics of `values`, computed on up to `Parallelism.jobs` threads.
    public static func of(_ values: UnsafeBufferPointer<Float>) -> MRCStatistics {
        let ranges = splitRange(values.count, into: values.count > 1 << 20 ? Parallelism.jobs * 4 : 1)
        var parts = [MRCStatistics](repeating: MRCStatistics(), count: ranges.count)
        parts.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let o = out
            parallelForEach(ranges.count) { i in
                var s = MRCStatistics()
                s.add(UnsafeBufferPointer(rebasing: values[ranges[i]]))
                o[i] = s
            }
        }
        var total = MRCStatistics()
        for p in parts { total.merge(p) }
        return total
    }

    /// The statistics of `values`.
    public static func of(_ values: [Float]) -> MRCStatistics {
        values.withUnsafeBufferPointer { of($0) }
    }
}
