// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Sharpening of the averaged half maps as relion_postprocess 3.1 does it (src/postprocessing.cpp
// sharpenMap, applyFscWeighting, makeGuinierPlot; src/fftw.cpp applyBFactorToMap, lowPassFilterMap;
// src/funcs.cpp fitStraightLine):
//   1. Guinier plot: ln(mean |F|) per shell against 1/d² (d = N·pixel/shell), shells 0 … N/2,
//      with F the transform normalised by 1/N³ (RELION's convention).
//   2. FSC weighting (Rosenthal & Henderson 2003): F·√(2·FSC/(1+FSC)) with the corrected FSC, up to
//      the last shell before the FSC first drops below 0.0001; zero beyond.
//   3. B-factor: a least-squares line through the weighted Guinier plot over the shells with
//      d ≤ fit-from (10 Å) and d ≥ fit-until (0 = no limit: RELION then fits every shell the FSC
//      weighting left non-zero); B = 4·slope. Or a given B. Applied as F·exp(−B/4·s²) up to
//      Nyquist, zero beyond.
//   4. Optional low-pass filter: raised cosine over ±filter-edge-width/2 shells around the shell of
//      the given resolution. RELION 3.1.3 applies it only when --low_pass is given (its default is
//      0, "disable"); a negative value means "at the final resolution".

import Foundation
import AngpixFourier

/// One row of RELION's data_guinier table.
public struct GuinierPoint: Sendable, Equatable, Codable {
    /// 1/d² in Å⁻².
    public var resolutionSquared: Double
    /// ln(mean amplitude) of the averaged map (−99 where the shell is empty).
    public var original: Double
    /// The same after FSC weighting.
    public var weighted: Double
    /// The same after B-factor sharpening.
    public var sharpened: Double
}

/// The straight line fitted through the Guinier plot.
public struct GuinierFit: Sendable, Equatable, Codable {
    public var slope: Double
    public var intercept: Double
    /// RELION's "correlation of fit": ss_xy² / (ss_xx · ss_yy).
    public var correlation: Double
    /// Number of shells in the fit.
    public var points: Int
}

/// RELION's weighted least-squares straight line (fitStraightLine): returns zeros when degenerate.
public func fitStraightLine(x: [Double], y: [Double], w: [Double]) -> GuinierFit {
    var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
    var used = 0
    for i in 0..<x.count where w[i] != 0 {
        sw += w[i]; sx += w[i] * x[i]; sy += w[i] * y[i]
        sxx += w[i] * x[i] * x[i]; syy += w[i] * y[i] * y[i]; sxy += w[i] * x[i] * y[i]
        used += 1
    }
    guard sw > 0 else { return GuinierFit(slope: 0, intercept: 0, correlation: 0, points: 0) }
    let ax = sx / sw, ay = sy / sw
    let ssxx = sxx - sw * ax * ax, ssyy = syy - sw * ay * ay, ssxy = sxy - sw * ax * ay
    guard ssxx > 0 else { return GuinierFit(slope: 0, intercept: 0, correlation: 0, points: used) }
    let slope = ssxy / ssxx
    return GuinierFit(slope: slope, intercept: ay - slope * ax, correlation: ssxy * ssxy / (ssxx * ssyy), points: used)
}

/// The resolutions (Å) of the Guinier plot's shells: shells 0 … N/2 with d ≥ 2·pixel (RELION's test).
func guinierShells(size: Int, pixelSize: Double) -> [(shell: Int, d: Double)] {
    var out: [(Int, Double)] = []
    for i in 0..<(size / 2 + 1) {
        let d = (Double(size) * pixelSize) / Double(i)   // +inf for shell 0, as in RELION
        if d >= pixelSize * 2 { out.append((i, d)) }
    }
    return out
}

/// ln of the mean normalised amplitude per shell, −99 for empty shells (RELION's marker).
func guinierValues(_ shells: FourierShells, _ spectrum: UnsafeBufferPointer<Complex32>,
                   rows: [(shell: Int, d: Double)]) -> [Double] {
    let (sum, count) = shells.amplitudeSums(spectrum)
    let n3 = Double(shells.shape[0]) * Double(shells.shape[1]) * Double(shells.shape[2])
    return rows.map { r in
        let s = sum[r.shell] / n3
        return s > 0 ? log(s / Double(count[r.shell])) : -99
    }
}

/// RELION's FSC weights per shell: √(2F/(1+F)) up to the shell before F first drops below 1e-4.
func fscWeights(_ fsc: [Double]) -> [Float] {
    var last = 0
    for (i, f) in fsc.enumerated() {
        if f < 0.0001 { break }
        last = i
    }
    return fsc.enumerated().map { i, f in
        i <= last && f > 0 ? Float((2 * f / (1 + f)).squareRoot()) : 0
    }
}
