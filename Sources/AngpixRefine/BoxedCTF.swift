// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The CTF applied the way particle extraction applies it. A micrograph carries the CTF over the
// whole field; boxing then keeps only what falls inside the box, so the signal the CTF delocalises
// beyond the box edge is lost and what stays is the CTF-modulated image convolved with the box's
// window in Fourier space. A prediction c(k)·f(k) on the box's own grid ignores that: its CTF
// rings are sharper than the data's, which RELION 3.1 itself notes (its --ctf_pad) and which,
// measured on particles simulated that way, puts a false Z40 of 1.6 and Z44 of 2.2 (at 5,000–
// 15,000 Å defocus in a 128 Å box; 85 at 20,000–25,000 Å) into the even-aberration fit.
//
// Here the prediction is made on the grid of a larger field N × N (the same pixel size, the object
// at its centre), multiplied by the CTF there, brought to real space, boxed to the particle's
// s × s pixels around the object's centre and transformed back. The field is periodic, so the
// CTF's point-spread function (radius R = λ Δf k + λ³ Cs k³ at the highest frequency predicted)
// must not wrap into the box: N ≥ s + R/p (then every object point within the box reaches every box
// pixel without wrapping), and at least 2s. At 2s, a 96 px box at 5,000–15,000 Å defocus put Z40
// 35 % low; with N from R, right (`fieldSize`).
//   P_sin = Box(−env · sin γ · e^{iφ_odd} · f),   P_cos = Box(−env · cos γ · e^{iφ_odd} · f).
// P_sin is the prediction at the particle's current CTF; a change of phase ε(k) that varies slowly
// over 1/(s·p) (a defocus step, a Zernike term) gives Box(−env sin(γ + ε) f) ≈ cos ε P_sin +
// sin ε P_cos, which is how the even-aberration and defocus fits use the pair (without boxing the
// identity is exact, and those fits reduce to RELION's per-pixel formulas).
//
// Normalisation: the projector's values do not depend on the box (they sample the reference's
// transform at k), so with the normalised inverse transform
//   Box(X) = FFT_s( crop_s( IFFT_N(X) ) ),
// which returns the box-grid prediction for a compact object (tested).

import Foundation
import AngpixFourier
import AngpixOptics

/// Predictions with the CTF applied on a field twice the box and then boxed, as extraction does.
public struct BoxedCTF: @unchecked Sendable {
    /// The particle box s and the padded field N (pixels).
    public let boxSize: Int, fieldSize: Int
    /// The nominal pixel size (Å).
    public let pixelSize: Double
    /// The grid of the padded field (its spectrum layout), for transfer tables.
    public let fieldGrid: SpectrumGrid
    let fieldPlan: RealFFTPlan, boxPlan: RealFFTPlan

    public init(opticsGroup: Int, boxSize s: Int, pixelSize p: Double, fieldSize n: Int? = nil) throws {
        let n = n ?? 2 * s
        precondition(n >= s && n % 2 == 0, "BoxedCTF: the field must be even and at least the box")
        boxSize = s
        fieldSize = n
        pixelSize = p
        fieldGrid = SpectrumGrid(opticsGroup: opticsGroup, boxSize: n, pixelSize: p)
        fieldPlan = try RealFFTPlan.cached(shape: [n, n])
        boxPlan = try RealFFTPlan.cached(shape: [s, s])
    }

    /// The field N for a box of `boxSize` px at `pixelSize` Å: at least 2s and s + R/p with the
    /// point-spread radius R = λ Δf k + λ³ Cs k³ (Å) at the largest defocus (Å) and frequency
    /// (1/Å) predicted, rounded up to an even size with prime factors 2, 3, 5 and 7 only.
    public static func fieldSize(boxSize s: Int, pixelSize p: Double, maximumDefocus: Double,
                                 maximumFrequency k: Double, wavelength lambda: Double, sphericalAberrationMillimetres cs: Double) -> Int {
        let r = lambda * max(0, maximumDefocus) * k + lambda * lambda * lambda * max(0, cs) * 1e7 * k * k * k
        var n = max(2 * s, s + Int((r / p).rounded(.up)) + 2)
        func smooth(_ v: Int) -> Bool {
            var x = v
            for f in [2, 3, 5, 7] { while x % f == 0 { x /= f } }
            return x == 1
        }
        while n % 2 != 0 || !smooth(n) { n += 1 }
        return n
    }

    /// Box(X): the spectrum on the padded field's grid brought to the particle's box.
    public func box(_ field: [Complex32]) -> [Complex32] {
        let s = boxSize, n = fieldSize
        precondition(field.count == n * (n / 2 + 1), "BoxedCTF.box: a spectrum of the padded field is needed")
        var image = [Float](repeating: 0, count: n * n)
        field.withUnsafeBufferPointer { i in image.withUnsafeMutableBufferPointer { o in fieldPlan.inverse(i, o, threads: 1) } }
        // The object's centre is at pixel n/2 of the field and s/2 of the box: keep [n/2 − s/2, n/2 + s/2).
        var cropped = [Float](repeating: 0, count: s * s)
        let offset = n / 2 - s / 2
        for y in 0..<s {
            let from = (y + offset) * n + offset
            for x in 0..<s { cropped[y * s + x] = image[from + x] }
        }
        var out = [Complex32](repeating: .zero, count: s * (s / 2 + 1))
        cropped.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in boxPlan.forward(i, o, threads: 1) } }
        return out
    }

    /// (P_sin, P_cos) of a prediction `field` made on the padded field's grid (`fieldGrid`), for
    /// the particle's CTF `ctf`; `table` is a transfer table of `fieldGrid` for the group.
    public func basis(field: [Complex32], ctf: CTFParameters, table: TransferTable) -> (sine: [Complex32], cosine: [Complex32]) {
        let tp = table.particle(ctf)
        var ps = [Complex32](repeating: .zero, count: field.count), pc = ps
        for i in 0..<field.count {
            let f = field[i]
            if f.re == 0 && f.im == 0 { continue }
            let g = table.gamma(tp, i), env = table.envelope(tp, i)
            let (oc, os) = table.oddPhasor(i)
            let fr = (Double(f.re) * oc - Double(f.im) * os) * env, fi = (Double(f.re) * os + Double(f.im) * oc) * env
            let sg = sin(g), cg = cos(g)
            ps[i] = Complex32(Float(-sg * fr), Float(-sg * fi))
            pc[i] = Complex32(Float(-cg * fr), Float(-cg * fi))
        }
        return (box(ps), box(pc))
    }
}
