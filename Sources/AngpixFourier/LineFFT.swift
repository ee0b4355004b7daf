// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The 1D complex FFT kernel behind every angpix transform.
//
// Algorithm: the self-sorting (Stockham) mixed-radix Cooley–Tukey FFT in the loop layout of
// Swarztrauber's FFTPACK (also used by pocketfft): for each factor p of n (4, 2, 3, 5 with
// hand-written butterflies, any other odd prime with a general butterfly), one pass reads
// CC(i, j, k) = cc[i + ido·(j + p·k)] and writes the p-point DFT over j, multiplied by the
// twiddle exp(-2πi·i·j·l1/n), to CH(i, k, j) = ch[i + ido·(k + l1·j)], ping-ponging between
// two buffers; the output comes out in natural order without a bit-reversal step.
// Lengths whose prime factors are large use Bluestein's algorithm (chirp-z: the DFT written
// as a convolution, done with three FFTs of a smooth length M ≥ 2n−1).
//
// Every value is a *lane vector*: SIMD4<Float> real and imaginary parts, i.e. four independent
// transforms run at once (the caller gathers four rows or columns into lanes). Only the forward
// direction (exp(-2πi jk/n)) exists here: the inverse is conj(FFT(conj(x))), with the
// conjugations folded into the callers' gather and scatter loops.

import Foundation

/// Four single-precision lanes: four independent transforms computed together.
typealias Lanes = SIMD4<Float>

/// A lane vector of complex numbers (four complex values, one per lane).
struct CV {
    var re: Lanes
    var im: Lanes
    @inline(__always) init(_ re: Lanes, _ im: Lanes) { self.re = re; self.im = im }
    @inline(__always) init(broadcast re: Float, _ im: Float) {
        self.re = Lanes(repeating: re); self.im = Lanes(repeating: im)
    }
    static let zero = CV(Lanes(), Lanes())
}

@inline(__always) func + (a: CV, b: CV) -> CV { CV(a.re + b.re, a.im + b.im) }
@inline(__always) func - (a: CV, b: CV) -> CV { CV(a.re - b.re, a.im - b.im) }
/// Complex product, lane by lane.
@inline(__always) func * (a: CV, b: CV) -> CV {
    CV(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
}
@inline(__always) func * (a: CV, s: Float) -> CV { CV(a.re * s, a.im * s) }
/// a · (−i)
@inline(__always) func mulMinusI(_ a: CV) -> CV { CV(a.im, -a.re) }
/// a · i
@inline(__always) func mulI(_ a: CV) -> CV { CV(-a.im, a.re) }
@inline(__always) func conj(_ a: CV) -> CV { CV(a.re, -a.im) }

/// One Stockham pass: radix `p`, `l1` transforms already combined, `ido` = n / (l1·p).
struct FFTPass {
    let radix: Int
    let l1: Int
    let ido: Int
    /// (radix−1)·ido broadcast twiddles: tw[(j−1)·ido + i] = exp(−2πi·i·j·l1/n); nil when ido = 1.
    let twiddles: UnsafeMutablePointer<CV>?
}

/// A 1D forward complex FFT of a fixed length on lane vectors; immutable and thread-safe.
final class LineFFT: @unchecked Sendable {
    /// The transform length.
    let n: Int
    /// Lane vectors of scratch that `forward` needs in `work` (besides the n of `data`).
    let workCount: Int
    private let passes: [FFTPass]
    private let bluestein: Bluestein?

    /// The chirp-z (Bluestein) data: chirp c[m] = exp(−πi m²/n), the FFT of the conjugate
    /// chirp filter (scaled by 1/M) and the FFT of the smooth length M.
    final class Bluestein {
        let m: Int
        let inner: LineFFT
        let chirp: UnsafeMutablePointer<CV>
        let filter: UnsafeMutablePointer<CV>
        init(n: Int, m: Int) {
            self.m = m
            inner = LineFFT(n: m, allowBluestein: false)
            chirp = .allocate(capacity: n)
            filter = .allocate(capacity: m)
            var c = [(Double, Double)](repeating: (0, 0), count: n)
            for k in 0..<n {
                let r = (k * k) % (2 * n)
                let angle = -Double.pi * Double(r) / Double(n)
                c[k] = (cos(angle), sin(angle))
                chirp[k] = CV(broadcast: Float(c[k].0), Float(c[k].1))
            }
            // Filter b[j] = conj(c[|j|]) for j in −(n−1)...(n−1), wrapped modulo M, transformed once.
            let b = UnsafeMutablePointer<CV>.allocate(capacity: m)
            let w = UnsafeMutablePointer<CV>.allocate(capacity: inner.workCount)
            defer { b.deallocate(); w.deallocate() }
            for j in 0..<m { b[j] = .zero }
            b[0] = CV(broadcast: Float(c[0].0), Float(-c[0].1))
            for j in 1..<n {
                let v = CV(broadcast: Float(c[j].0), Float(-c[j].1))
                b[j] = v
                b[m - j] = v
            }
            let r = inner.forward(b, w)
            let s = 1 / Float(m)
            for j in 0..<m { filter[j] = r[j] * s }
        }
        deinit { chirp.deallocate(); filter.deallocate() }
    }

    convenience init(n: Int) { self.init(n: n, allowBluestein: true) }

    init(n: Int, allowBluestein: Bool) {
        precondition(n >= 1)
        self.n = n
        let factors = LineFFT.factorize(n)
        if allowBluestein && LineFFT.prefersBluestein(n: n, factors: factors) {
            let m = LineFFT.smoothLength(atLeast: 2 * n - 1)
            let b = Bluestein(n: n, m: m)
            bluestein = b
            passes = []
            workCount = 2 * m
            return
        }
        bluestein = nil
        var list: [FFTPass] = []
        var l1 = 1
        for p in factors {
            let ido = n / (l1 * p)
            var tw: UnsafeMutablePointer<CV>? = nil
            if ido > 1 {
                let t = UnsafeMutablePointer<CV>.allocate(capacity: (p - 1) * ido)
                for j in 1..<p {
                    for i in 0..<ido {
                        let e = (i * j * l1) % n
                        let angle = -2 * Double.pi * Double(e) / Double(n)
                        t[(j - 1) * ido + i] = CV(broadcast: Float(cos(angle)), Float(sin(angle)))
                    }
                }
                tw = t
            }
            list.append(FFTPass(radix: p, l1: l1, ido: ido, twiddles: tw))
            l1 *= p
        }
        passes = list
        workCount = n
    }

    deinit { for p in passes { p.twiddles?.deallocate() } }

    /// The factors used by the passes: 4s first, then a 2, 3s, 5s, then other primes.
    static func factorize(_ n: Int) -> [Int] {
        var f: [Int] = []
        var r = n
        while r % 4 == 0 { f.append(4); r /= 4 }
        if r % 2 == 0 { f.append(2); r /= 2 }
        var p = 3
        while p * p <= r {
            while r % p == 0 { f.append(p); r /= p }
            p += 2
        }
        if r > 1 { f.append(r) }
        return f
    }

    /// Rough operation counts of the direct mixed-radix plan and of Bluestein's algorithm.
    static func prefersBluestein(n: Int, factors: [Int]) -> Bool {
        guard let largest = factors.max(), largest > 7 else { return false }
        func cost(_ n: Int, _ fs: [Int]) -> Double {
            Double(n) * fs.reduce(0.0) { $0 + ($1 <= 5 ? Double($1) : 0.6 * Double($1) * Double($1 + 3) / 4 + 2) }
        }
        let m = smoothLength(atLeast: 2 * n - 1)
        let blue = 2 * cost(m, factorize(m)) + 6 * Double(m)
        return blue < cost(n, factors)
    }

    /// The smallest 2^a·3^b·5^c ≥ n.
    static func smoothLength(atLeast n: Int) -> Int {
        var best = Int.max
        var p2 = 1
        while p2 < 2 * n {
            var p3 = p2
            while p3 < 2 * n {
                var p5 = p3
                while p5 < n { p5 *= 5 }
                best = min(best, p5)
                p3 *= 3
            }
            p2 *= 2
        }
        return best
    }

    /// Forward DFT (X[k] = Σ x[j]·exp(−2πi jk/n), unnormalised) of the n lane vectors in `data`,
    /// using `work` (workCount lane vectors). Returns the buffer that holds the result: `data`
    /// or `work`. Both buffers' other contents are destroyed.
    @inline(__always)
    func forward(_ data: UnsafeMutablePointer<CV>, _ work: UnsafeMutablePointer<CV>) -> UnsafeMutablePointer<CV> {
        if let b = bluestein { return runBluestein(b, data, work) }
        var src = data, dst = work
        for p in passes {
            switch p.radix {
            case 4: pass4(p, src, dst)
            case 2: pass2(p, src, dst)
            case 3: pass3(p, src, dst)
            case 5: pass5(p, src, dst)
            default: passGeneric(p, src, dst)
            }
            swap(&src, &dst)
        }
        return src
    }

    private func runBluestein(_ b: Bluestein, _ data: UnsafeMutablePointer<CV>,
                              _ work: UnsafeMutablePointer<CV>) -> UnsafeMutablePointer<CV> {
        let m = b.m
        let a = work, a2 = work + m
        for k in 0..<n { a[k] = data[k] * b.chirp[k] }
        for k in n..<m { a[k] = .zero }
        let r = b.inner.forward(a, a2)
        for k in 0..<m { r[k] = conj(r[k] * b.filter[k]) }
        let other = (r == a) ? a2 : a
        let r2 = b.inner.forward(r, other)
        for k in 0..<n { data[k] = conj(r2[k]) * b.chirp[k] }
        return data
    }

    // MARK: passes (forward sign)

    private func pass2(_ p: FFTPass, _ cc: UnsafeMutablePointer<CV>, _ ch: UnsafeMutablePointer<CV>) {
        let ido = p.ido, l1 = p.l1
        for k in 0..<l1 {
            let c0 = cc + ido * (2 * k), c1 = c0 + ido
            let h0 = ch + ido * k, h1 = h0 + ido * l1
            if let tw = p.twiddles {
                h0[0] = c0[0] + c1[0]
                h1[0] = c0[0] - c1[0]
                for i in 1..<ido {
                    let a = c0[i], b = c1[i]
                    h0[i] = a + b
                    h1[i] = (a - b) * tw[i]
                }
            } else {
                for i in 0..<ido {
                    let a = c0[i], b = c1[i]
                    h0[i] = a + b
                    h1[i] = a - b
                }
            }
        }
    }

    private func pass4(_ p: FFTPass, _ cc: UnsafeMutablePointer<CV>, _ ch: UnsafeMutablePointer<CV>) {
        let ido = p.ido, l1 = p.l1
        for k in 0..<l1 {
            let c0 = cc + ido * (4 * k), c1 = c0 + ido, c2 = c1 + ido, c3 = c2 + ido
            let h0 = ch + ido * k, h1 = h0 + ido * l1, h2 = h1 + ido * l1, h3 = h2 + ido * l1
            if let tw = p.twiddles {
                let w1 = tw, w2 = tw + ido, w3 = tw + 2 * ido
                do {
                    let a = c0[0], b = c1[0], c = c2[0], d = c3[0]
                    let t1 = a + c, t2 = a - c, t3 = b + d, t4 = b - d
                    h0[0] = t1 + t3
                    h1[0] = t2 + mulMinusI(t4)
                    h2[0] = t1 - t3
                    h3[0] = t2 + mulI(t4)
                }
                for i in 1..<ido {
                    let a = c0[i], b = c1[i], c = c2[i], d = c3[i]
                    let t1 = a + c, t2 = a - c, t3 = b + d, t4 = b - d
                    h0[i] = t1 + t3
                    h1[i] = (t2 + mulMinusI(t4)) * w1[i]
                    h2[i] = (t1 - t3) * w2[i]
                    h3[i] = (t2 + mulI(t4)) * w3[i]
                }
            } else {
                for i in 0..<ido {
                    let a = c0[i], b = c1[i], c = c2[i], d = c3[i]
                    let t1 = a + c, t2 = a - c, t3 = b + d, t4 = b - d
                    h0[i] = t1 + t3
                    h1[i] = t2 + mulMinusI(t4)
                    h2[i] = t1 - t3
                    h3[i] = t2 + mulI(t4)
                }
            }
        }
    }

    private func pass3(_ p: FFTPass, _ cc: UnsafeMutablePointer<CV>, _ ch: UnsafeMutablePointer<CV>) {
        let ido = p.ido, l1 = p.l1
        let cr: Float = -0.5, si: Float = 0.866025403784438646763723170752936183
        for k in 0..<l1 {
            let c0 = cc + ido * (3 * k), c1 = c0 + ido, c2 = c1 + ido
            let h0 = ch + ido * k, h1 = h0 + ido * l1, h2 = h1 + ido * l1
            @inline(__always) func butterfly(_ i: Int) -> (CV, CV, CV) {
                let a = c0[i], b = c1[i], c = c2[i]
                let s = b + c, d = b - c
                let r = a + s * cr
                let q = d * si            // X1 = r − i·q, X2 = r + i·q
                return (a + s, r + mulMinusI(q), r + mulI(q))
            }
            if let tw = p.twiddles {
                let (x0, x1, x2) = butterfly(0)
                h0[0] = x0; h1[0] = x1; h2[0] = x2
                for i in 1..<ido {
                    let (y0, y1, y2) = butterfly(i)
                    h0[i] = y0
                    h1[i] = y1 * tw[i]
                    h2[i] = y2 * tw[ido + i]
                }
            } else {
                for i in 0..<ido {
                    let (y0, y1, y2) = butterfly(i)
                    h0[i] = y0; h1[i] = y1; h2[i] = y2
                }
            }
        }
    }

    private func pass5(_ p: FFTPass, _ cc: UnsafeMutablePointer<CV>, _ ch: UnsafeMutablePointer<CV>) {
        let ido = p.ido, l1 = p.l1
        let c1: Float = 0.309016994374947424102293417182819059   // cos(2π/5)
        let c2: Float = -0.809016994374947424102293417182819059  // cos(4π/5)
        let s1: Float = 0.951056516295153572116439333379382143   // sin(2π/5)
        let s2: Float = 0.587785252292473129168705954639072769   // sin(4π/5)
        for k in 0..<l1 {
            let q0 = cc + ido * (5 * k), q1 = q0 + ido, q2 = q1 + ido, q3 = q2 + ido, q4 = q3 + ido
            let h0 = ch + ido * k, h1 = h0 + ido * l1, h2 = h1 + ido * l1, h3 = h2 + ido * l1, h4 = h3 + ido * l1
            @inline(__always) func butterfly(_ i: Int) -> (CV, CV, CV, CV, CV) {
                let a = q0[i], b = q1[i], c = q2[i], d = q3[i], e = q4[i]
                let sbe = b + e, dbe = b - e, scd = c + d, dcd = c - d
                let r1 = a + sbe * c1 + scd * c2
                let r2 = a + sbe * c2 + scd * c1
                let i1 = dbe * s1 + dcd * s2
                let i2 = dbe * s2 - dcd * s1
                return (a + sbe + scd, r1 + mulMinusI(i1), r2 + mulMinusI(i2), r2 + mulI(i2), r1 + mulI(i1))
            }
            if let tw = p.twiddles {
                let (x0, x1, x2, x3, x4) = butterfly(0)
                h0[0] = x0; h1[0] = x1; h2[0] = x2; h3[0] = x3; h4[0] = x4
                for i in 1..<ido {
                    let (y0, y1, y2, y3, y4) = butterfly(i)
                    h0[i] = y0
                    h1[i] = y1 * tw[i]
                    h2[i] = y2 * tw[ido + i]
                    h3[i] = y3 * tw[2 * ido + i]
                    h4[i] = y4 * tw[3 * ido + i]
                }
            } else {
                for i in 0..<ido {
                    let (y0, y1, y2, y3, y4) = butterfly(i)
                    h0[i] = y0; h1[i] = y1; h2[i] = y2; h3[i] = y3; h4[i] = y4
                }
            }
        }
    }

    /// Any odd prime radix: X_m = x0 + Σ_j cos(2πjm/p)(x_j + x_{p−j}) − i Σ_j sin(2πjm/p)(x_j − x_{p−j}).
    private func passGeneric(_ p: FFTPass, _ cc: UnsafeMutablePointer<CV>, _ ch: UnsafeMutablePointer<CV>) {
        let ido = p.ido, l1 = p.l1, r = p.radix, half = (r - 1) / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * r) { cs in
            for t in 0..<r {
                let angle = 2 * Double.pi * Double(t) / Double(r)
                cs[2 * t] = Float(cos(angle)); cs[2 * t + 1] = Float(sin(angle))
            }
            withUnsafeTemporaryAllocation(of: CV.self, capacity: 2 * (half + 1)) { tmp in
                let sum = tmp.baseAddress!, dif = sum + (half + 1)
                for k in 0..<l1 {
                    let c0 = cc + ido * (r * k)
                    let h0 = ch + ido * k
                    for i in 0..<ido {
                        let a = c0[i]
                        var total = a
                        for j in 1...half {
                            let x = c0[j * ido + i], y = c0[(r - j) * ido + i]
                            sum[j] = x + y; dif[j] = x - y
                            total = total + sum[j]
                        }
                        h0[i] = total
                        for m in 1...half {
                            var re = a, im = CV.zero
                            var idx = 0
                            for j in 1...half {
                                idx += m; if idx >= r { idx -= r }
                                re = re + sum[j] * cs[2 * idx]
                                im = im + dif[j] * cs[2 * idx + 1]
                            }
                            var xm = re + mulMinusI(im), xp = re + mulI(im)
                            if let tw = p.twiddles {
                                xm = xm * tw[(m - 1) * ido + i]
                                xp = xp * tw[(r - m - 1) * ido + i]
                            }
                            h0[m * ido * l1 + i] = xm
                            h0[(r - m) * ido * l1 + i] = xp
                        }
                    }
                }
            }
        }
    }
}
