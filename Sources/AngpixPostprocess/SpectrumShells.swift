// Fourier shells of a cubic map's half-complex spectrum, the way RELION counts them
// (src/fftw.cpp getFSC, src/postprocessing.cpp makeGuinierPlot): the voxel at frequency
// (kz, ky, kx), with kz, ky in −N/2+1…N/2 and kx in 0…N/2, lies in shell ROUND(√(kz²+ky²+kx²));
// only shells 0…N/2 are used. Every voxel of the half-complex array counts once (the kx = 0 plane
// holds both ±ky, so it is not reweighted), exactly as RELION's FOR_ALL_ELEMENTS_IN_FFTW_TRANSFORM.
//
// Loops run over z-slabs in parallel; each worker accumulates per-shell sums in Double.

import Foundation
import AngpixCore
import AngpixFourier

/// Geometry of the half-complex spectrum of an N×N×N map: shell of each voxel, parallel loops.
public struct SpectrumShells: Sendable {
    /// The box size N.
    public let size: Int
    /// N/2 + 1: the x extent of the half-complex spectrum, and the number of shells reported.
    public let halfSize: Int
    /// Shell number for each squared radius r² = kz²+ky²+kx² (0 … 3·(N/2)²).
    let shellOfR2: [Int32]

    /// The shells of an N³ map.
    public init(size: Int) {
        self.size = size
        halfSize = size / 2 + 1
        let maxR2 = 3 * (size / 2 + 1) * (size / 2 + 1)
        var table = [Int32](repeating: 0, count: maxR2 + 1)
        for r2 in 0...maxR2 { table[r2] = Int32((Double(r2).squareRoot() + 0.5).rounded(.down)) }
        shellOfR2 = table
    }

    /// Number of complex voxels in the spectrum.
    public var spectrumCount: Int { size * size * halfSize }

    /// Signed frequency of index `k` along an axis of the box (RELION: k < N/2+1 ? k : k − N).
    @inline(__always) public func frequency(_ k: Int) -> Int { k < halfSize ? k : k - size }

    /// Splits the z-slabs into `chunks` ranges and calls `body(chunk, zRange)` for each, in
    /// parallel. Within a slab z, row y occupies indices (z·N + y)·halfSize ..< +halfSize, and the
    /// voxel with kx = x there has r² = frequency(z)² + frequency(y)² + x². The chunk number lets
    /// callers keep per-worker sums.
    func forEachRow(chunks: Int, _ body: (_ chunk: Int, _ zRange: Range<Int>) -> Void) {
        let ranges = splitRange(size, into: chunks)
        parallelForEach(ranges.count) { c in body(c, ranges[c]) }
    }

    /// The number of chunks to split a pass into (a few per worker, for balance).
    var chunkCount: Int { min(size, max(1, Parallelism.jobs * 4)) }

    /// Fourier shell correlation of two spectra, one value per shell 0 … N/2 (RELION's getFSC:
    /// Σ Re(conj(F1)·F2) / √(Σ|F1|²·Σ|F2|²)).
    public func fsc(_ a: UnsafeBufferPointer<Complex32>, _ b: UnsafeBufferPointer<Complex32>) -> [Double] {
        let n = halfSize
        let chunks = chunkCount
        var partial = [Double](repeating: 0, count: chunks * 3 * n)
        partial.withUnsafeMutableBufferPointer { acc in
            nonisolated(unsafe) let acc = acc
            forEachRow(chunks: chunks) { c, zr in
                let base = c * 3 * n
                for z in zr {
                    let kz = frequency(z)
                    for y in 0..<size {
                        let ky = frequency(y)
                        let r2b = kz * kz + ky * ky
                        let row = (z * size + y) * halfSize
                        for x in 0..<halfSize {
                            let s = Int(shellOfR2[r2b + x * x])
                            if s >= n { continue }
                            let p = a[row + x], q = b[row + x]
                            let pr = Double(p.re), pi = Double(p.im), qr = Double(q.re), qi = Double(q.im)
                            acc[base + s] += pr * qr + pi * qi
                            acc[base + n + s] += pr * pr + pi * pi
                            acc[base + 2 * n + s] += qr * qr + qi * qi
                        }
                    }
                }
            }
        }
        var out = [Double](repeating: 0, count: n)
        for s in 0..<n {
            var num = 0.0, d1 = 0.0, d2 = 0.0
            for c in 0..<chunks {
                num += partial[c * 3 * n + s]; d1 += partial[c * 3 * n + n + s]; d2 += partial[c * 3 * n + 2 * n + s]
            }
            out[s] = num / (d1 * d2).squareRoot()
        }
        return out
    }

    /// Mean amplitude per shell 0 … N/2 and the number of voxels in each (for the Guinier plot).
    public func meanAmplitudes(_ a: UnsafeBufferPointer<Complex32>) -> (sum: [Double], count: [Int]) {
        let n = halfSize
        let chunks = chunkCount
        var sums = [Double](repeating: 0, count: chunks * n)
        var counts = [Int](repeating: 0, count: chunks * n)
        sums.withUnsafeMutableBufferPointer { sb in
            counts.withUnsafeMutableBufferPointer { cb in
                nonisolated(unsafe) let sb = sb, cb = cb
                forEachRow(chunks: chunks) { c, zr in
                    for z in zr {
                        let kz = frequency(z)
                        for y in 0..<size {
                            let ky = frequency(y)
                            let r2b = kz * kz + ky * ky
                            let row = (z * size + y) * halfSize
                            for x in 0..<halfSize {
                                let s = Int(shellOfR2[r2b + x * x])
                                if s >= n { continue }
                                let p = a[row + x]
                                sb[c * n + s] += Double(p.re * p.re + p.im * p.im).squareRoot()
                                cb[c * n + s] += 1
                            }
                        }
                    }
                }
            }
        }
        var sum = [Double](repeating: 0, count: n), count = [Int](repeating: 0, count: n)
        for c in 0..<chunks { for s in 0..<n { sum[s] += sums[c * n + s]; count[s] += counts[c * n + s] } }
        return (sum, count)
    }

    /// Multiplies every voxel by `factor(r²)` (computed once per distinct r² in a row, in parallel).
    func scale(_ a: UnsafeMutableBufferPointer<Complex32>, _ factor: (_ r2: Int) -> Float) {
        nonisolated(unsafe) let a = a
        forEachRow(chunks: chunkCount) { _, zr in
            for z in zr {
                let kz = frequency(z)
                for y in 0..<size {
                    let ky = frequency(y)
                    let r2b = kz * kz + ky * ky
                    let row = (z * size + y) * halfSize
                    for x in 0..<halfSize {
                        let f = factor(r2b + x * x)
                        a[row + x] = Complex32(a[row + x].re * f, a[row + x].im * f)
                    }
                }
            }
        }
    }

    /// Replaces the phase of every voxel with r² ≥ shell² by a random one, drawing the phases
    /// from `random` in RELION's loop order (z, then y, then x), as randomizePhasesBeyond does.
    /// The planes kx = 0 and kx = N/2 are then made Hermitian (F(−k) = F(k)*), which is what a
    /// real inverse transform makes of them.
    public func randomizePhases(_ a: UnsafeMutableBufferPointer<Complex32>, beyondShell shell: Int,
                                random: inout GlibcRandom) {
        let limit = shell * shell
        let slabCount = size * halfSize
        let zBlock = max(1, min(size, (1 << 22) / max(1, slabCount)))
        var phases = [Float](repeating: .nan, count: zBlock * slabCount)
        var z0 = 0
        while z0 < size {
            let z1 = min(size, z0 + zBlock)
            // Draw the phases in order (sequential: one generator).
            for z in z0..<z1 {
                let kz = frequency(z)
                for y in 0..<size {
                    let ky = frequency(y)
                    let r2b = kz * kz + ky * ky
                    let row = ((z - z0) * size + y) * halfSize
                    for x in 0..<halfSize {
                        phases[row + x] = r2b + x * x >= limit ? random.relionPhase() : .nan
                    }
                }
            }
            // Apply them in parallel.
            phases.withUnsafeBufferPointer { ph in
                nonisolated(unsafe) let ph = ph, a = a
                let rows = (z1 - z0) * size
                let parts = splitRange(rows, into: min(rows, Parallelism.jobs * 4))
                parallelForEach(parts.count) { c in
                    for r in parts[c] {
                        let local = r * halfSize
                        let global = z0 * slabCount + local
                        for x in 0..<halfSize {
                            let p = ph[local + x]
                            if p.isNaN { continue }
                            let v = a[global + x]
                            // RELION computes in double; the result is stored in single precision
                            // here, so single-precision cos/sin lose nothing that is kept.
                            let mag = (v.re * v.re + v.im * v.im).squareRoot()
                            a[global + x] = Complex32(mag * cos(p), mag * sin(p))
                        }
                    }
                }
            }
            z0 = z1
        }
        makeHermitianPlanes(a)
    }

    /// Averages F(k) with conj(F(−k)) on the kx = 0 plane (and kx = N/2 for even N), so that the
    /// spectrum is that of a real map whatever the inverse transform does with inconsistent planes.
    public func makeHermitianPlanes(_ a: UnsafeMutableBufferPointer<Complex32>) {
        var planes = [0]
        if size % 2 == 0 { planes.append(size / 2) }
        for x in planes {
            for z in 0..<size {
                let zm = (size - z) % size
                for y in 0..<size {
                    let ym = (size - y) % size
                    let i = (z * size + y) * halfSize + x
                    let j = (zm * size + ym) * halfSize + x
                    if j < i { continue }
                    let p = a[i], q = a[j]
                    let re = (p.re + q.re) * 0.5
                    let im = (p.im - q.im) * 0.5
                    a[i] = Complex32(re, im)
                    a[j] = Complex32(re, -im)
                }
            }
        }
    }
}
