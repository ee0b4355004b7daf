// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Fourier shells of a half-complex spectrum: shell sums, radial averages, the Fourier shell
// correlation, and radial filters, computed in parallel over rows of the spectrum.
//
// Layout: a half-complex spectrum of real shape [nz, ny, nx] (slowest first) has shape
// [nz, ny, nx/2+1]; the signed frequency of index i along an axis of size n is
// i <= n/2 ? i : i − n (so the Nyquist index n/2 of an even axis counts as +n/2, as in RELION's
// FOR_ALL_ELEMENTS_IN_FFTW_TRANSFORM). The shell of an element is round(|k|) with |k| in units of
// 1/box: for a cubic (or square) box that is round(sqrt(kz² + ky² + kx²)) on integer
// frequencies, exactly RELION's getFSC and makeGuinierPlot. For a non-cubic box the frequency is
// measured in physical units and expressed in units of 1/nx: round(nx · sqrt(Σ (k_a/n_a)²)).
// Shells run 0 ... nx/2 (RELION keeps XSIZE = nx/2+1 shells); elements beyond (the corners)
// belong to no shell (index −1).
//
// FSC (RELION src/fftw.cpp getFSC): for each shell s,
//   FSC(s) = Σ Re(a·conj b) / sqrt(Σ|a|² · Σ|b|²)
// summed over the stored half-complex elements of the shell (no weighting for the kx = 0 plane,
// as in RELION). Sums are in Double. A shell where either spectrum has no power gets 0 (RELION
// divides by zero there and gets NaN).
//
// Parallel loops split the slowest axis into a fixed number of chunks (a few per worker); each
// chunk keeps its own sums, which are added in chunk order, so the result does not depend on
// thread timing.

import Foundation
import AngpixCore

/// The signed frequency of index `i` along a Fourier axis of size `n`: i ≤ n/2 ? i : i − n.
@inlinable public func fourierFrequency(_ i: Int, _ n: Int) -> Int { i <= n / 2 ? i : i - n }

/// The shells of a half-complex spectrum of one real shape, for FSCs, radial averages and radial
/// filters. Immutable; build one per shape and reuse it.
public final class FourierShells: Sendable {
    /// The real-space shape (slowest first).
    public let shape: [Int]
    /// The half-complex spectrum shape.
    public let spectrumShape: [Int]
    /// The number of shells: nx/2 + 1 (shell 0 is the origin, shell nx/2 is Nyquist).
    public let count: Int
    /// The number of elements in a spectrum row (nx/2 + 1); rows are stored one after another.
    public let rowLength: Int
    /// The number of spectrum rows (the product of all sizes but the last).
    public let rowCount: Int
    /// Whether every axis has the size of the last (squared radii are then integers).
    public let isCubic: Bool
    /// |k|² (in units of (1/nx)²) summed over all axes but x, per row.
    @usableFromInline let rowSquaredRadius: [Double]
    /// |kx|² (in units of (1/nx)²) per element of a row.
    @usableFromInline let xSquaredRadius: [Double]
    /// Cubic boxes: the integer kz² + ky² per row, and the shell of each integer |k|² (−1 beyond).
    @usableFromInline let rowIntegerSquaredRadius: [Int]
    @usableFromInline let shellOfIntegerSquaredRadius: [Int32]

    /// Computes the shell geometry of `shape` (1, 2 or 3 dimensions, each of size ≥ 1).
    public init(shape: [Int]) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { throw FourierError.invalidShape(shape) }
        self.shape = shape
        let d = shape.count
        let nx = shape[d - 1]
        var spec = shape
        spec[d - 1] = nx / 2 + 1
        spectrumShape = spec
        count = nx / 2 + 1
        rowLength = nx / 2 + 1
        rowCount = shape.dropLast().reduce(1, *)
        let cubic = shape.allSatisfy { $0 == nx }
        isCubic = cubic
        // The squared frequency along axis a of index i, in units of (1/nx)².
        func term(_ i: Int, axis a: Int) -> Double {
            if cubic { let k = fourierFrequency(i, nx); return Double(k * k) }
            let k = Double(fourierFrequency(i, shape[a])) / Double(shape[a]) * Double(nx)
            return k * k
        }
        xSquaredRadius = (0..<rowLength).map { term($0, axis: d - 1) }
        // Per row: the sum over the leading axes, slowest first (an odometer over those axes).
        var rowR2 = [Double](repeating: 0, count: rowCount)
        var rowInt = cubic ? [Int](repeating: 0, count: rowCount) : []
        var pos = [Int](repeating: 0, count: d - 1)
        for r in 0..<rowCount {
            var s = 0.0, si = 0
            for a in 0..<(d - 1) {
                s += term(pos[a], axis: a)
                if cubic { let k = fourierFrequency(pos[a], nx); si += k * k }
            }
            rowR2[r] = s
            if cubic { rowInt[r] = si }
            var a = d - 2
            while a >= 0 {
                pos[a] += 1
                if pos[a] < shape[a] { break }
                pos[a] = 0
                a -= 1
            }
        }
        rowSquaredRadius = rowR2
        rowIntegerSquaredRadius = rowInt
        if cubic {
            let maxR2 = d * (nx / 2) * (nx / 2)
            let shells = count
            shellOfIntegerSquaredRadius = (0...maxR2).map { r2 in
                let s = Int(Double(r2).squareRoot().rounded())
                return s < shells ? Int32(s) : -1
            }
        } else {
            shellOfIntegerSquaredRadius = []
        }
    }

    /// The shells of a cubic map of side `size` (≥ 1).
    public convenience init(cubeOfSize size: Int) throws {
        try self.init(shape: [size, size, size])
    }

    /// The number of half-complex elements.
    public var spectrumCount: Int { rowCount * rowLength }

    /// |k|² of element `x` of row `row`, in units of (1/nx)² (an integer for a cubic box).
    @inlinable public func squaredRadius(row: Int, x: Int) -> Double {
        rowSquaredRadius[row] + xSquaredRadius[x]
    }

    /// Writes the shell (−1 beyond the last) of every element of row `row` to `out`.
    @usableFromInline func shells(ofRow row: Int, into out: UnsafeMutablePointer<Int32>) {
        if isCubic {
            let base = rowIntegerSquaredRadius[row]
            shellOfIntegerSquaredRadius.withUnsafeBufferPointer { table in
                for x in 0..<rowLength { out[x] = table[base + x * x] }
            }
        } else {
            let base = rowSquaredRadius[row]
            for x in 0..<rowLength {
                let s = Int((base + xSquaredRadius[x]).squareRoot().rounded())
                out[x] = s < count ? Int32(s) : -1
            }
        }
    }

    /// The number of chunks parallel loops use: a few per worker, at most one per index of the
    /// slowest axis.
    public var chunkCount: Int {
        let slabs = shape.count > 1 ? shape[0] : 1
        return max(1, min(slabs, Parallelism.jobs * 4))
    }

    /// Calls `body(chunk, row, shells)` for every spectrum row (elements row·rowLength ..<
    /// (row+1)·rowLength), in parallel over `chunkCount` chunks of consecutive rows; `shells[x]` is
    /// the shell of element x of the row (−1 beyond the last). The rows of a chunk are visited in
    /// order by one thread, so sums kept per chunk are race-free and always add up the same way.
    @usableFromInline func forEachRow(_ body: (_ chunk: Int, _ row: Int, _ shells: UnsafePointer<Int32>) -> Void) {
        let slabs = shape.count > 1 ? shape[0] : 1
        let rowsPerSlab = rowCount / slabs
        let ranges = splitRange(slabs, into: chunkCount)
        parallelForEach(ranges.count) { c in
            let buffer = UnsafeMutablePointer<Int32>.allocate(capacity: rowLength)
            defer { buffer.deallocate() }
            for row in (ranges[c].lowerBound * rowsPerSlab)..<(ranges[c].upperBound * rowsPerSlab) {
                shells(ofRow: row, into: buffer)
                body(c, row, buffer)
            }
        }
    }

    /// The shell of every half-complex element (row-major, x fastest), −1 beyond the last shell.
    /// Built on each call (one Int32 per element): for tests and small arrays.
    public var index: [Int32] {
        var out = [Int32](repeating: -1, count: spectrumCount)
        out.withUnsafeMutableBufferPointer { o in
            for row in 0..<rowCount { shells(ofRow: row, into: o.baseAddress! + row * rowLength) }
        }
        return out
    }

    /// The number of half-complex elements in each shell.
    public var elementCounts: [Int] { shellSums { _ in 0 }.count }

    /// The Fourier shell correlation of two spectra of this shape, one value per shell
    /// 0 ... nx/2 (RELION's getFSC: Σ Re(a·conj b) / √(Σ|a|²·Σ|b|²) per shell). A shell where
    /// either spectrum has no power (or that has no elements) gets 0.
    public func fsc(_ a: UnsafeBufferPointer<Complex32>, _ b: UnsafeBufferPointer<Complex32>) -> [Double] {
        precondition(a.count == spectrumCount && b.count == spectrumCount,
                     "fsc: spectra have \(a.count) and \(b.count) values, the shape needs \(spectrumCount)")
        let n = count
        var partial = [Double](repeating: 0, count: chunkCount * 3 * n)
        partial.withUnsafeMutableBufferPointer { acc in
            nonisolated(unsafe) let acc = acc
            forEachRow { c, row, shells in
                let base = c * 3 * n
                let start = row * rowLength
                for x in 0..<rowLength {
                    let s = Int(shells[x])
                    if s < 0 { continue }
                    let p = a[start + x], q = b[start + x]
                    let pr = Double(p.re), pi = Double(p.im), qr = Double(q.re), qi = Double(q.im)
                    acc[base + s] += pr * qr + pi * qi
                    acc[base + n + s] += pr * pr + pi * pi
                    acc[base + 2 * n + s] += qr * qr + qi * qi
                }
            }
        }
        let sums = sumChunks(partial, width: 3 * n)
        return (0..<n).map { s in
            let den = (sums[n + s] * sums[2 * n + s]).squareRoot()
            return den > 0 ? sums[s] / den : 0
        }
    }

    /// Array form of `fsc(_:_:)`.
    public func fsc(_ a: [Complex32], _ b: [Complex32]) -> [Double] {
        a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in fsc(x, y) } }
    }

    /// The sum of the amplitudes |F| in each shell and the number of elements summed (RELION's
    /// makeGuinierPlot sums). |F| is the square root, in Double, of the single-precision |F|².
    public func amplitudeSums(_ a: UnsafeBufferPointer<Complex32>) -> (sum: [Double], count: [Int]) {
        precondition(a.count == spectrumCount, "amplitudeSums: \(a.count) values, the shape needs \(spectrumCount)")
        return shellSums { e in let p = a[e]; return Double(p.re * p.re + p.im * p.im).squareRoot() }
    }

    /// The mean of `values` (one per half-complex element) over each shell; 0 for an empty shell.
    public func radialAverage(_ values: [Double]) -> [Double] {
        precondition(values.count == spectrumCount, "radialAverage: \(values.count) values, the shape needs \(spectrumCount)")
        let (sum, n) = values.withUnsafeBufferPointer { v in shellSums { v[$0] } }
        return mean(sum, n)
    }

    /// The sum of `value(element)` over the elements of each shell, and their number (in parallel,
    /// per-chunk sums added in chunk order).
    @inline(__always) private func shellSums(_ value: (_ element: Int) -> Double) -> (sum: [Double], count: [Int]) {
        let n = count
        var sums = [Double](repeating: 0, count: chunkCount * n)
        var counts = [Int](repeating: 0, count: chunkCount * n)
        sums.withUnsafeMutableBufferPointer { sb in
            counts.withUnsafeMutableBufferPointer { cb in
                nonisolated(unsafe) let sb = sb, cb = cb
                forEachRow { c, row, shells in
                    let start = row * rowLength
                    for x in 0..<rowLength {
                        let s = Int(shells[x])
                        if s < 0 { continue }
                        sb[c * n + s] += value(start + x)
                        cb[c * n + s] += 1
                    }
                }
            }
        }
        return (sumChunks(sums, width: n), sumChunks(counts, width: n))
    }

    /// The mean amplitude |F| in each shell (the radially averaged amplitude spectrum).
    public func radialAmplitude(_ spectrum: [Complex32]) -> [Double] {
        let (sum, n) = spectrum.withUnsafeBufferPointer { amplitudeSums($0) }
        return mean(sum, n)
    }

    /// The mean power |F|² in each shell (the radially averaged power spectrum).
    public func radialPower(_ spectrum: [Complex32]) -> [Double] {
        radialAverage(spectrum.map { Double($0.normSquared) })
    }

    /// Multiplies every element by `factor(shell)` (shell −1 beyond the last), in parallel.
    @inlinable public func scale(_ a: UnsafeMutableBufferPointer<Complex32>, byShell factor: (_ shell: Int) -> Float) {
        precondition(a.count == spectrumCount, "scale: \(a.count) values, the shape needs \(spectrumCount)")
        nonisolated(unsafe) let a = a
        forEachRow { _, row, shells in
            let start = row * rowLength
            for x in 0..<rowLength {
                let f = factor(Int(shells[x]))
                a[start + x] = Complex32(a[start + x].re * f, a[start + x].im * f)
            }
        }
    }

    /// Multiplies every element by `factor(|k|²)`, |k|² in units of (1/nx)² (an integer for a
    /// cubic box), in parallel.
    @inlinable public func scale(_ a: UnsafeMutableBufferPointer<Complex32>,
                                 bySquaredRadius factor: (_ squaredRadius: Double) -> Float) {
        precondition(a.count == spectrumCount, "scale: \(a.count) values, the shape needs \(spectrumCount)")
        nonisolated(unsafe) let a = a
        forEachRow { _, row, _ in
            let start = row * rowLength
            let base = rowSquaredRadius[row]
            for x in 0..<rowLength {
                let f = factor(base + xSquaredRadius[x])
                a[start + x] = Complex32(a[start + x].re * f, a[start + x].im * f)
            }
        }
    }
}

/// Adds up per-chunk rows of `width` values.
private func sumChunks<T: AdditiveArithmetic>(_ partial: [T], width: Int) -> [T] {
    var out = [T](repeating: .zero, count: width)
    for c in 0..<(partial.count / max(1, width)) {
        for s in 0..<width { out[s] += partial[c * width + s] }
    }
    return out
}

/// sum / count per shell, 0 where the count is 0.
private func mean(_ sum: [Double], _ count: [Int]) -> [Double] {
    zip(sum, count).map { $1 > 0 ? $0 / Double($1) : 0 }
}

/// The shell index (round(|k|) in units of 1/box, −1 beyond Nyquist) of every half-complex
/// element of a transform of `shape`; see `FourierShells` for non-cubic boxes.
public func fourierShellIndex(shape: [Int]) throws -> [Int32] {
    try FourierShells(shape: shape).index
}

/// The Fourier shell correlation of two half-complex spectra of a real array of `shape`, one
/// value per shell 0 ... nx/2 (see `FourierShells.fsc`). Precondition: both spectra have the
/// shape's spectrum size and the shape is valid.
public func fsc(_ a: [Complex32], _ b: [Complex32], shape: [Int]) -> [Double] {
    guard let shells = try? FourierShells(shape: shape) else {
        preconditionFailure("fsc: invalid shape \(shape)")
    }
    return shells.fsc(a, b)
}

/// Radially averaged values of a real-space array around a centre (for instance a mask's or a
/// map's profile): the mean over voxels with round(distance) = r, r = 0 ... maxRadius.
/// The centre defaults to (n/2, ...) on every axis, RELION's origin for a box.
public func realSpaceRadialAverage(_ data: [Float], shape: [Int], center: [Double]? = nil,
                                   maxRadius: Int? = nil) -> [Double] {
    precondition(data.count == shape.reduce(1, *), "realSpaceRadialAverage: data does not match shape")
    let c = center ?? shape.map { Double($0 / 2) }
    let rmax = maxRadius ?? (shape.min()! / 2)
    var sum = [Double](repeating: 0, count: rmax + 1), n = [Int](repeating: 0, count: rmax + 1)
    var pos = [Int](repeating: 0, count: shape.count)
    for e in 0..<data.count {
        var r2 = 0.0
        for a in 0..<shape.count { let d = Double(pos[a]) - c[a]; r2 += d * d }
        let r = Int(r2.squareRoot().rounded())
        if r <= rmax { sum[r] += Double(data[e]); n[r] += 1 }
        var a = shape.count - 1
        while a >= 0 {
            pos[a] += 1
            if pos[a] < shape[a] { break }
            pos[a] = 0
            a -= 1
        }
    }
    return (0...rmax).map { n[$0] > 0 ? sum[$0] / Double(n[$0]) : 0 }
}
