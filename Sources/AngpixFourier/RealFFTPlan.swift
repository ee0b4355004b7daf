// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Real-to-complex and complex-to-real FFTs in any number of dimensions (angpix uses 1, 2, 3).
//
// Conventions (those of numpy.fft.rfftn / irfftn and FFTW's r2c/c2r): shapes are slowest-first,
// [nz, ny, nx]; the forward transform X[k] = Σ x[j]·exp(−2πi k·j/n) is unnormalised and keeps the
// half-complex spectrum [nz, ny, nx/2+1]; the inverse divides by N = nz·ny·nx, so
// inverse(forward(x)) == x. In the inverse, the imaginary parts of the kx = 0 and kx = nx/2
// columns are ignored (as numpy does).
//
// Algorithm: the real axis x is transformed first (forward; last in the inverse). For even nx
// the nx real samples of a row are packed as nx/2 complex values z[j] = x[2j] + i·x[2j+1],
// transformed with a half-length complex FFT, and split with
//   X[k] = (Z[k] + conj Z[h−k])/2 − i·exp(−2πik/nx)·(Z[k] − conj Z[h−k])/2,   h = nx/2
// (and the inverse of that step before the inverse FFT); odd nx uses a full-length complex FFT.
// The other axes are complex FFTs along strided columns. Every pass gathers four rows or four
// adjacent columns into the lanes of a contiguous SIMD4 scratch line (a small transposition
// that keeps memory access sequential), transforms the four lines at once with `LineFFT`, and
// scatters the result back. Passes are split over threads by groups of lines.

import Foundation
import AngpixCore

/// A reusable plan for real-input FFTs of one shape (1D, 2D or 3D; shape slowest-first).
///
/// Immutable after creation: one plan can be used from many threads at once. Forward is
/// unnormalised; inverse divides by the number of samples, so `inverse(forward(x)) == x`.
public final class RealFFTPlan: @unchecked Sendable {
    /// The real-space shape, slowest axis first ([n], [ny, nx] or [nz, ny, nx]).
    public let shape: [Int]
    /// The half-complex spectrum shape: `shape` with the last size replaced by nx/2 + 1.
    public let spectrumShape: [Int]
    /// Number of real samples (product of `shape`).
    public let realCount: Int
    /// Number of complex values in the half-complex spectrum (product of `spectrumShape`).
    public let spectrumCount: Int

    let nx: Int
    let nxh: Int
    let rows: Int
    let xLine: LineFFT
    /// exp(−2πik/nx) for k = 0...nx/2 (even nx only).
    let rtw: UnsafeMutablePointer<CV>?
    /// Complex transforms of axes 0 ..< d−1.
    let axisLines: [LineFFT]
    /// Spectrum stride (in complex values) of each axis.
    let strides: [Int]
    let maxLine: Int
    let maxWork: Int

    /// Makes a plan for real arrays of `shape` (slowest-first); throws for an empty shape or a
    /// size below 1.
    public init(shape: [Int]) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { throw FourierError.invalidShape(shape) }
        self.shape = shape
        nx = shape[shape.count - 1]
        nxh = nx / 2 + 1
        var spec = shape
        spec[spec.count - 1] = nxh
        spectrumShape = spec
        realCount = shape.reduce(1, *)
        spectrumCount = spec.reduce(1, *)
        rows = realCount / nx
        let even = nx % 2 == 0
        xLine = LineFFT(n: even ? max(1, nx / 2) : nx)
        if even {
            let t = UnsafeMutablePointer<CV>.allocate(capacity: nx / 2 + 1)
            for k in 0...(nx / 2) {
                let angle = -2 * Double.pi * Double(k) / Double(nx)
                t[k] = CV(broadcast: Float(cos(angle)), Float(sin(angle)))
            }
            rtw = t
        } else {
            rtw = nil
        }
        var lines: [LineFFT] = []
        var byLength: [Int: LineFFT] = [:]
        for a in 0..<(shape.count - 1) {
            let n = shape[a]
            if n == nx && !even { lines.append(xLine); continue }
            if let l = byLength[n] { lines.append(l); continue }
            let l = LineFFT(n: n)
            byLength[n] = l
            lines.append(l)
        }
        axisLines = lines
        var st = [Int](repeating: 1, count: shape.count)
        for a in stride(from: shape.count - 2, through: 0, by: -1) { st[a] = st[a + 1] * spec[a + 1] }
        strides = st
        maxLine = max(nx, shape.max()!) + 2
        maxWork = max(xLine.workCount, lines.map(\.workCount).max() ?? 0)
    }

    deinit { rtw?.deallocate() }

    /// A shared plan for `shape`, created on first use and kept for the life of the process.
    public static func cached(shape: [Int]) throws -> RealFFTPlan {
        try planCache.plan(shape)
    }

    // MARK: public transforms

    /// Forward transform of `realCount` samples into `spectrumCount` complex values
    /// (unnormalised). `threads` defaults to `Parallelism.jobs`; small transforms run on one.
    public func forward(_ input: UnsafeBufferPointer<Float>, _ output: UnsafeMutableBufferPointer<Complex32>,
                        threads: Int? = nil) {
        precondition(input.count >= realCount, "RealFFTPlan.forward: input has \(input.count) values, need \(realCount)")
        precondition(output.count >= spectrumCount, "RealFFTPlan.forward: output has \(output.count) values, need \(spectrumCount)")
        let t = effectiveThreads(threads)
        forwardOne(input.baseAddress!, output.baseAddress!, threads: t, scratch: nil)
    }

    /// Inverse transform (divides by `realCount`) of `spectrumCount` complex values into
    /// `realCount` samples. The input is not modified.
    public func inverse(_ input: UnsafeBufferPointer<Complex32>, _ output: UnsafeMutableBufferPointer<Float>,
                        threads: Int? = nil) {
        precondition(input.count >= spectrumCount, "RealFFTPlan.inverse: input has \(input.count) values, need \(spectrumCount)")
        precondition(output.count >= realCount, "RealFFTPlan.inverse: output has \(output.count) values, need \(realCount)")
        let t = effectiveThreads(threads)
        inverseOne(input.baseAddress!, output.baseAddress!, threads: t, scratch: nil, spectrum: nil)
    }

    /// Forward transform of an array of `realCount` samples.
    public func forward(_ input: [Float]) -> [Complex32] {
        precondition(input.count == realCount, "RealFFTPlan.forward: input has \(input.count) values, need \(realCount)")
        return [Complex32](unsafeUninitializedCapacity: spectrumCount) { out, n in
            input.withUnsafeBufferPointer { forward($0, out) }
            n = spectrumCount
        }
    }

    /// Inverse transform of an array of `spectrumCount` complex values (divides by `realCount`).
    public func inverse(_ input: [Complex32]) -> [Float] {
        precondition(input.count == spectrumCount, "RealFFTPlan.inverse: input has \(input.count) values, need \(spectrumCount)")
        return [Float](unsafeUninitializedCapacity: realCount) { out, n in
            input.withUnsafeBufferPointer { inverse($0, out) }
            n = realCount
        }
    }

    /// Forward transforms of `count` consecutive arrays (e.g. the images of a stack): image i
    /// reads `input[i·realCount ..< (i+1)·realCount]` and writes `output[i·spectrumCount ...]`.
    /// Images are spread over `threads` threads (default `Parallelism.jobs`).
    public func forward(batch input: UnsafeBufferPointer<Float>, _ output: UnsafeMutableBufferPointer<Complex32>,
                        count: Int, threads: Int? = nil) {
        precondition(input.count >= count * realCount && output.count >= count * spectrumCount,
                     "RealFFTPlan.forward(batch:): buffers too small for \(count) transforms")
        let t = min(max(1, threads ?? Parallelism.jobs), count)
        let inp = input.baseAddress!, out = output.baseAddress!
        let ranges = splitRange(count, into: t)
        runChunks(ranges.count) { c in
            let s = LineScratch(self)
            defer { s.free() }
            for i in ranges[c] {
                self.forwardOne(inp + i * self.realCount, out + i * self.spectrumCount, threads: 1, scratch: s)
            }
        }
    }

    /// Inverse transforms of `count` consecutive spectra (see `forward(batch:_:count:threads:)`).
    public func inverse(batch input: UnsafeBufferPointer<Complex32>, _ output: UnsafeMutableBufferPointer<Float>,
                        count: Int, threads: Int? = nil) {
        precondition(input.count >= count * spectrumCount && output.count >= count * realCount,
                     "RealFFTPlan.inverse(batch:): buffers too small for \(count) transforms")
        let t = min(max(1, threads ?? Parallelism.jobs), count)
        let inp = input.baseAddress!, out = output.baseAddress!
        let ranges = splitRange(count, into: t)
        runChunks(ranges.count) { c in
            let s = LineScratch(self)
            let spec = UnsafeMutablePointer<Complex32>.allocate(capacity: self.spectrumCount)
            defer { s.free(); spec.deallocate() }
            for i in ranges[c] {
                self.inverseOne(inp + i * self.spectrumCount, out + i * self.realCount, threads: 1,
                                scratch: s, spectrum: spec)
            }
        }
    }

    // MARK: drivers

    private func effectiveThreads(_ threads: Int?) -> Int {
        let t = max(1, threads ?? Parallelism.jobs)
        // Below ~64k samples, thread start-up costs more than it saves.
        return realCount < (1 << 16) ? 1 : t
    }

    /// Per-thread scratch: two lines of lane vectors, the line FFT's work area, and a sink row
    /// that absorbs the unused lanes of a partial group.
    final class LineScratch {
        let a: UnsafeMutablePointer<CV>
        let b: UnsafeMutablePointer<CV>
        let work: UnsafeMutablePointer<CV>
        let work2: UnsafeMutablePointer<CV>
        let sink: UnsafeMutablePointer<Complex32>
        init(_ plan: RealFFTPlan) {
            a = .allocate(capacity: plan.maxLine)
            b = .allocate(capacity: plan.maxLine)
            work = .allocate(capacity: max(1, plan.maxWork))
            work2 = .allocate(capacity: max(1, plan.maxWork))
            sink = .allocate(capacity: plan.nx + 2)
        }
        func free() { a.deallocate(); b.deallocate(); work.deallocate(); work2.deallocate(); sink.deallocate() }
    }

    /// Runs `body(chunk)` for chunk = 0 ..< chunks, on several threads when chunks > 1.
    private func runChunks(_ chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 1 { body(0); return }
        withoutActuallyEscaping(body) { b in
            nonisolated(unsafe) let f = b
            DispatchQueue.concurrentPerform(iterations: chunks) { f($0) }
        }
    }

    /// Splits `groups` line groups over `threads` threads (with scratch each), or runs them on
    /// the caller's scratch when single-threaded.
    private func forGroups(_ groups: Int, threads: Int, scratch: LineScratch?, _ body: (Range<Int>, LineScratch) -> Void) {
        if threads <= 1 || groups < 2 {
            if let s = scratch { body(0..<groups, s) } else {
                let s = LineScratch(self); body(0..<groups, s); s.free()
            }
            return
        }
        let ranges = splitRange(groups, into: min(groups, threads * 4))
        let perThread = splitRange(ranges.count, into: threads)
        runChunks(perThread.count) { c in
            let s = LineScratch(self)
            defer { s.free() }
            for r in perThread[c] { body(ranges[r], s) }
        }
    }

    func forwardOne(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Complex32>, threads: Int,
                    scratch: LineScratch?) {
        forGroups((rows + 3) / 4, threads: threads, scratch: scratch) { g, s in
            realRowsForward(src, dst, groups: g, s)
        }
        for axis in stride(from: shape.count - 2, through: 0, by: -1) {
            forGroups(axisGroups(axis), threads: threads, scratch: scratch) { g, s in
                complexAxis(axis, UnsafePointer(dst), dst, inverse: false, groups: g, s)
            }
        }
    }

    func inverseOne(_ src: UnsafePointer<Complex32>, _ dst: UnsafeMutablePointer<Float>, threads: Int,
                    scratch: LineScratch?, spectrum: UnsafeMutablePointer<Complex32>?) {
        if shape.count == 1 {
            forGroups((rows + 3) / 4, threads: threads, scratch: scratch) { g, s in
                realRowsInverse(src, dst, groups: g, s)
            }
            return
        }
        let spec = spectrum ?? UnsafeMutablePointer<Complex32>.allocate(capacity: spectrumCount)
        defer { if spectrum == nil { spec.deallocate() } }
        var from = src
        for axis in 0..<(shape.count - 1) {
            forGroups(axisGroups(axis), threads: threads, scratch: scratch) { g, s in
                complexAxis(axis, from, spec, inverse: true, groups: g, s)
            }
            from = UnsafePointer(spec)
        }
        forGroups((rows + 3) / 4, threads: threads, scratch: scratch) { g, s in
            realRowsInverse(UnsafePointer(spec), dst, groups: g, s)
        }
    }

    // MARK: passes

    private func axisGroups(_ axis: Int) -> Int {
        let outer = shape[0..<axis].reduce(1, *)
        return outer * ((strides[axis] + 7) / 8)
    }

    /// Real rows (x axis) → half-complex rows, four rows per group.
    private func realRowsForward(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Complex32>,
                                 groups: Range<Int>, _ s: LineScratch) {
        let nx = self.nx, nxh = self.nxh, rows = self.rows
        let a = s.a, b = s.b, work = s.work
        for g in groups {
            let r0 = 4 * g
            let p0 = src + r0 * nx
            let p1 = src + min(r0 + 1, rows - 1) * nx
            let p2 = src + min(r0 + 2, rows - 1) * nx
            let p3 = src + min(r0 + 3, rows - 1) * nx
            let d0 = dst + r0 * nxh
            let d1 = r0 + 1 < rows ? dst + (r0 + 1) * nxh : s.sink
            let d2 = r0 + 2 < rows ? dst + (r0 + 2) * nxh : s.sink
            let d3 = r0 + 3 < rows ? dst + (r0 + 3) * nxh : s.sink
            if let rtw {
                let h = nx / 2
                // Pack x[2j] + i·x[2j+1]: blocks of 4 floats per row, transposed into lanes.
                var j = 0
                while j + 2 <= h {
                    let (c0, c1, c2, c3) = transpose4(load4(p0 + 2 * j), load4(p1 + 2 * j), load4(p2 + 2 * j), load4(p3 + 2 * j))
                    a[j] = CV(c0, c1)
                    a[j + 1] = CV(c2, c3)
                    j += 2
                }
                if j < h {
                    a[j] = CV(Lanes(p0[2 * j], p1[2 * j], p2[2 * j], p3[2 * j]),
                              Lanes(p0[2 * j + 1], p1[2 * j + 1], p2[2 * j + 1], p3[2 * j + 1]))
                }
                let z = xLine.forward(a, work)
                // X[k] = e + o·w^k and X[h−k] = conj(e − o·w^k), with e = (Z[k] + conj Z[h−k])/2 and
                // o = −i(Z[k] − conj Z[h−k])/2.
                var k = 0
                while 2 * k <= h {
                    let zk = z[k == 0 ? 0 : k], zc = z[k == 0 ? 0 : h - k]
                    let e = CV(zk.re + zc.re, zk.im - zc.im) * 0.5
                    let o = CV(zk.im + zc.im, zc.re - zk.re) * 0.5
                    let ow = o * rtw[k]
                    b[k] = e + ow
                    b[h - k] = conj(e - ow)
                    k += 1
                }
                scatterComplex(b, nxh, d0, d1, d2, d3)
            } else {
                var j = 0
                while j + 4 <= nx {
                    let (c0, c1, c2, c3) = transpose4(load4(p0 + j), load4(p1 + j), load4(p2 + j), load4(p3 + j))
                    a[j] = CV(c0, Lanes()); a[j + 1] = CV(c1, Lanes())
                    a[j + 2] = CV(c2, Lanes()); a[j + 3] = CV(c3, Lanes())
                    j += 4
                }
                while j < nx {
                    a[j] = CV(Lanes(p0[j], p1[j], p2[j], p3[j]), Lanes())
                    j += 1
                }
                let z = xLine.forward(a, work)
                scatterComplex(z, nxh, d0, d1, d2, d3)
            }
        }
    }

    /// Half-complex rows → real rows (x axis), scaled by 1/N, four rows per group.
    private func realRowsInverse(_ src: UnsafePointer<Complex32>, _ dst: UnsafeMutablePointer<Float>,
                                 groups: Range<Int>, _ s: LineScratch) {
        let nx = self.nx, nxh = self.nxh, rows = self.rows
        let a = s.a, b = s.b, work = s.work
        let scale = 1 / Float(realCount)
        let sinkF = UnsafeMutableRawPointer(s.sink).assumingMemoryBound(to: Float.self)
        for g in groups {
            let r0 = 4 * g
            let p0 = src + r0 * nxh
            let p1 = src + min(r0 + 1, rows - 1) * nxh
            let p2 = src + min(r0 + 2, rows - 1) * nxh
            let p3 = src + min(r0 + 3, rows - 1) * nxh
            let d0 = dst + r0 * nx
            let d1 = r0 + 1 < rows ? dst + (r0 + 1) * nx : sinkF
            let d2 = r0 + 2 < rows ? dst + (r0 + 2) * nx : sinkF
            let d3 = r0 + 3 < rows ? dst + (r0 + 3) * nx : sinkF
            gatherComplex(p0, p1, p2, p3, nxh, a)
            a[0].im = Lanes()
            if let rtw {
                let h = nx / 2
                a[h].im = Lanes()
                // Z[k] = E + i·O with E = X[k] + conj X[h−k], O = (X[k] − conj X[h−k])·conj(w^k)
                // (twice the true values; the factor 2 is in the 1/N scaling); Z[h−k] = conj E + i·conj O.
                // Stored conjugated, so that the forward FFT computes the inverse.
                var k = 0
                while 2 * k <= h {
                    let xk = a[k], xc = a[h - k]
                    let e = CV(xk.re + xc.re, xk.im - xc.im)
                    let d = CV(xk.re - xc.re, xk.im + xc.im)
                    let o = d * conj(rtw[k])
                    b[k] = CV(e.re - o.im, -(e.im + o.re))      // conj(e + i·o)
                    b[h - k] = CV(e.re + o.im, e.im - o.re)     // conj(conj e + i·conj o)
                    k += 1
                }
                let z = xLine.forward(b, work)
                let nsc = -scale
                var j = 0
                while j + 2 <= h {
                    let u = z[j], v = z[j + 1]
                    let (c0, c1, c2, c3) = transpose4(u.re * scale, u.im * nsc, v.re * scale, v.im * nsc)
                    store4(d0 + 2 * j, c0); store4(d1 + 2 * j, c1); store4(d2 + 2 * j, c2); store4(d3 + 2 * j, c3)
                    j += 2
                }
                if j < h {
                    let re = z[j].re * scale, im = z[j].im * nsc
                    d0[2 * j] = re[0]; d0[2 * j + 1] = im[0]
                    d1[2 * j] = re[1]; d1[2 * j + 1] = im[1]
                    d2[2 * j] = re[2]; d2[2 * j + 1] = im[2]
                    d3[2 * j] = re[3]; d3[2 * j + 1] = im[3]
                }
            } else {
                for k in 0..<nxh { b[k] = conj(a[k]) }
                if nx > 1 { for k in nxh..<nx { b[k] = a[nx - k] } }
                let z = xLine.forward(b, work)
                var j = 0
                while j + 4 <= nx {
                    let (c0, c1, c2, c3) = transpose4(z[j].re * scale, z[j + 1].re * scale,
                                                      z[j + 2].re * scale, z[j + 3].re * scale)
                    store4(d0 + j, c0); store4(d1 + j, c1); store4(d2 + j, c2); store4(d3 + j, c3)
                    j += 4
                }
                while j < nx {
                    let re = z[j].re * scale
                    d0[j] = re[0]; d1[j] = re[1]; d2[j] = re[2]; d3[j] = re[3]
                    j += 1
                }
            }
        }
    }

    /// Loads `count` complex values from four rows into lane vectors (row l → lane l).
    @inline(__always)
    private func gatherComplex(_ p0: UnsafePointer<Complex32>, _ p1: UnsafePointer<Complex32>,
                               _ p2: UnsafePointer<Complex32>, _ p3: UnsafePointer<Complex32>,
                               _ count: Int, _ a: UnsafeMutablePointer<CV>) {
        let f0 = UnsafeRawPointer(p0).assumingMemoryBound(to: Float.self)
        let f1 = UnsafeRawPointer(p1).assumingMemoryBound(to: Float.self)
        let f2 = UnsafeRawPointer(p2).assumingMemoryBound(to: Float.self)
        let f3 = UnsafeRawPointer(p3).assumingMemoryBound(to: Float.self)
        var k = 0
        while k + 2 <= count {
            let (c0, c1, c2, c3) = transpose4(load4(f0 + 2 * k), load4(f1 + 2 * k), load4(f2 + 2 * k), load4(f3 + 2 * k))
            a[k] = CV(c0, c1)
            a[k + 1] = CV(c2, c3)
            k += 2
        }
        if k < count {
            let c0 = p0[k], c1 = p1[k], c2 = p2[k], c3 = p3[k]
            a[k] = CV(Lanes(c0.re, c1.re, c2.re, c3.re), Lanes(c0.im, c1.im, c2.im, c3.im))
        }
    }

    /// Stores `count` lane vectors of complex values into four rows (lane l → row l).
    @inline(__always)
    private func scatterComplex(_ z: UnsafeMutablePointer<CV>, _ count: Int,
                                _ d0: UnsafeMutablePointer<Complex32>, _ d1: UnsafeMutablePointer<Complex32>,
                                _ d2: UnsafeMutablePointer<Complex32>, _ d3: UnsafeMutablePointer<Complex32>) {
        let f0 = UnsafeMutableRawPointer(d0).assumingMemoryBound(to: Float.self)
        let f1 = UnsafeMutableRawPointer(d1).assumingMemoryBound(to: Float.self)
        let f2 = UnsafeMutableRawPointer(d2).assumingMemoryBound(to: Float.self)
        let f3 = UnsafeMutableRawPointer(d3).assumingMemoryBound(to: Float.self)
        var k = 0
        while k + 2 <= count {
            let u = z[k], v = z[k + 1]
            let (c0, c1, c2, c3) = transpose4(u.re, u.im, v.re, v.im)
            store4(f0 + 2 * k, c0); store4(f1 + 2 * k, c1); store4(f2 + 2 * k, c2); store4(f3 + 2 * k, c3)
            k += 2
        }
        if k < count {
            let x = z[k]
            d0[k] = Complex32(x.re[0], x.im[0])
            d1[k] = Complex32(x.re[1], x.im[1])
            d2[k] = Complex32(x.re[2], x.im[2])
            d3[k] = Complex32(x.re[3], x.im[3])
        }
    }

    /// Complex FFT along `axis` (not the last): eight adjacent columns (one 64-byte cache line)
    /// per group, transformed as two lane vectors. The inverse conjugates on the way in and out.
    private func complexAxis(_ axis: Int, _ src: UnsafePointer<Complex32>, _ dst: UnsafeMutablePointer<Complex32>,
                             inverse: Bool, groups: Range<Int>, _ s: LineScratch) {
        let len = shape[axis], st = strides[axis]
        let perOuter = (st + 7) / 8
        let line = axisLines[axis]
        let sign: Float = inverse ? -1 : 1
        let a = s.a, a2 = s.b
        let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst)
        let stepBytes = st * MemoryLayout<Complex32>.stride
        for g in groups {
            let o = g / perOuter, i0 = (g % perOuter) * 8
            let base = (o * len * st + i0) * MemoryLayout<Complex32>.stride
            if i0 + 8 <= st {
                var p = rs + base
                for t in 0..<len {
                    let v = p.loadUnaligned(as: SIMD8<Float>.self)
                    let w = p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    a[t] = CV(v.evenHalf, v.oddHalf * sign)
                    a2[t] = CV(w.evenHalf, w.oddHalf * sign)
                    p += stepBytes
                }
                let z = line.forward(a, s.work)
                let z2 = line.forward(a2, s.work2)
                var q = rd + base
                for t in 0..<len {
                    var v = SIMD8<Float>(), w = SIMD8<Float>()
                    v.evenHalf = z[t].re
                    v.oddHalf = z[t].im * sign
                    w.evenHalf = z2[t].re
                    w.oddHalf = z2[t].im * sign
                    q.storeBytes(of: v, as: SIMD8<Float>.self)
                    q.storeBytes(of: w, toByteOffset: 32, as: SIMD8<Float>.self)
                    q += stepBytes
                }
            } else {
                // The last, partial group of a row: up to 7 columns, 4 at a time.
                var c0 = i0
                while c0 < st {
                    let cnt = min(4, st - c0)
                    let sp = src + o * len * st + c0, dp = dst + o * len * st + c0
                    for t in 0..<len {
                        var re = Lanes(), im = Lanes()
                        for l in 0..<cnt { let c = sp[t * st + l]; re[l] = c.re; im[l] = c.im }
                        a[t] = CV(re, im * sign)
                    }
                    let z = line.forward(a, s.work)
                    for t in 0..<len {
                        let v = z[t]
                        for l in 0..<cnt { dp[t * st + l] = Complex32(v.re[l], v.im[l] * sign) }
                    }
                    c0 += 4
                }
            }
        }
    }
}

/// Four consecutive Floats (any alignment).
@inline(__always) func load4(_ p: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always) func load4(_ p: UnsafeMutablePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always) func store4(_ p: UnsafeMutablePointer<Float>, _ v: Lanes) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}

/// The 4×4 transpose of rows r0...r3: column c of the input becomes output c.
@inline(__always) func transpose4(_ r0: Lanes, _ r1: Lanes, _ r2: Lanes, _ r3: Lanes) -> (Lanes, Lanes, Lanes, Lanes) {
    let a = SIMD8<Float>(lowHalf: r0, highHalf: r1)     // even: r0[0] r0[2] r1[0] r1[2]; odd: r0[1] r0[3] r1[1] r1[3]
    let b = SIMD8<Float>(lowHalf: r2, highHalf: r3)
    let c = SIMD8<Float>(lowHalf: a.evenHalf, highHalf: b.evenHalf)   // even: column 0, odd: column 2
    let d = SIMD8<Float>(lowHalf: a.oddHalf, highHalf: b.oddHalf)     // even: column 1, odd: column 3
    return (c.evenHalf, d.evenHalf, c.oddHalf, d.oddHalf)
}

/// Plans shared by `RealFFTPlan.cached(shape:)`.
private final class PlanCache: @unchecked Sendable {
    private let lock = NSLock()
    private var plans: [[Int]: RealFFTPlan] = [:]
    func plan(_ shape: [Int]) throws -> RealFFTPlan {
        lock.lock(); defer { lock.unlock() }
        if let p = plans[shape] { return p }
        let p = try RealFFTPlan(shape: shape)
        plans[shape] = p
        return p
    }
}

private let planCache = PlanCache()
