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
public struct MRCStatistics: Sendable, Equatable, Codable {
    public var count: Int = 0
    public var min: Double = .infinity
    public var max: Double = -.infinity
    public var sum: Double = 0
    public var sumOfSquares: Double = 0
    /// Values that are NaN or infinite (left out of the other figures).
    public var nonFinite: Int = 0

    public init() {}

    public var mean: Double { count > 0 ? sum / Double(count) : 0 }
    /// The standard deviation from the mean (what MRC2014 calls RMS).
    public var rms: Double {
        guard count > 0 else { return 0 }
        let m = mean
        return (Swift.max(0, sumOfSquares / Double(count) - m * m)).squareRoot()
    }

    /// Adds `values`.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        guard let base = values.baseAddress, values.count > 0 else { return }
        // Blocks of 1024 values are summed in SIMD Float lanes (fast, and exact enough for
        // header statistics), then added in Double. A block whose sums are not finite holds a
        // NaN or an infinity (or huge values) and is redone value by value.
        let n = values.count
        var k = 0
        while k < n {
            let end = Swift.min(n, k + 1024)
            var lo = SIMD8<Float>(repeating: .infinity), hi = SIMD8<Float>(repeating: -.infinity)
            var s1 = SIMD8<Float>(repeating: 0), s2 = SIMD8<Float>(repeating: 0)
            var j = k
            while j + 8 <= end {
                let v = UnsafeRawPointer(base + j).loadUnaligned(as: SIMD8<Float>.self)
                lo.replace(with: v, where: v .< lo); hi.replace(with: v, where: v .> hi)
                s1 += v; s2 += v * v
                j += 8
            }
            var bs = Double(s1.sum()), bs2 = Double(s2.sum())
            var blo = lo.min(), bhi = hi.max()
            while j < end {
                let v = base[j]
                blo = Swift.min(blo, v); bhi = Swift.max(bhi, v)
                bs += Double(v); bs2 += Double(v * v)
                j += 1
            }
            if bs.isFinite && bs2.isFinite && blo.isFinite && bhi.isFinite {
                count += end - k
                min = Swift.min(min, Double(blo)); max = Swift.max(max, Double(bhi))
                sum += bs; sumOfSquares += bs2
            } else {
                for j in k..<end {
                    let v = base[j]
                    if v.isFinite {
                        count += 1
                        min = Swift.min(min, Double(v)); max = Swift.max(max, Double(v))
                        sum += Double(v); sumOfSquares += Double(v) * Double(v)
                    } else {
                        nonFinite += 1
                    }
                }
            }
            k = end
        }
    }

    /// Adds another set of statistics.
    public mutating func merge(_ other: MRCStatistics) {
        count += other.count; nonFinite += other.nonFinite
        min = Swift.min(min, other.min); max = Swift.max(max, other.max)
        sum += other.sum; sumOfSquares += other.sumOfSquares
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
