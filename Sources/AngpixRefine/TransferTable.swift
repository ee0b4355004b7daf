// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The CTF of many particles of one optics group on one grid, fast: what depends only on the group
// (the frequencies M·k, their squares, the even and odd Zernike phases) is computed once, and each
// particle adds its defocus, Cs, constant phase, envelope and scale, with the formulas of
// AngpixOptics/CTF.swift (RELION 3.1's CTF::getCTF; the tests compare the two).

import Foundation
import AngpixOptics

/// Per-pixel frequency geometry and aberration phases of one optics group, for evaluating many
/// particles' transfers (CTF · e^{iφ_odd}) on a half-complex grid.
public struct TransferTable: Sendable {
    public let grid: SpectrumGrid
    /// The group optics the table was made for (M and the Zernike coefficients).
    public let magMatrix: Matrix2x2
    public let evenZernike: [Double]
    public let oddZernike: [Double]
    let xx: [Double], xy: [Double], yy: [Double]
    let even: [Double]
    let oddCos: [Double], oddSin: [Double]
    let hasOdd: Bool

    /// The table for the group optics of `ctf` (its magnification matrix and Zernike terms).
    public init(grid: SpectrumGrid, ctf: CTFParameters) {
        self.grid = grid
        let M = ctf.magMatrix ?? .identity
        magMatrix = M
        evenZernike = ctf.evenZernike
        oddZernike = ctf.oddZernike
        let n = grid.count
        var xx = [Double](repeating: 0, count: n), xy = xx, yy = xx, even = xx, oc = [Double](repeating: 1, count: n), os = xx
        let evenExp = ZernikeExpansion(coefficients: ctf.evenZernike, odd: false)
        let oddExp = ZernikeExpansion(coefficients: ctf.oddZernike, odd: true)
        for i in 0..<n {
            let k = grid.frequency(ofIndex: i)
            let q = M.apply(k.x, k.y)
            xx[i] = q.x * q.x; xy[i] = q.x * q.y; yy[i] = q.y * q.y
            if !evenExp.isEmpty { even[i] = evenExp.value(x: q.x, y: q.y) }
            if !oddExp.isEmpty {
                let phi = oddExp.value(x: q.x, y: q.y)
                oc[i] = cos(phi); os[i] = sin(phi)
            }
        }
        self.xx = xx; self.xy = xy; self.yy = yy; self.even = even; oddCos = oc; oddSin = os
        hasOdd = !oddExp.isEmpty
    }

    /// True when `ctf` has the group optics of this table.
    public func fits(_ ctf: CTFParameters) -> Bool {
        (ctf.magMatrix ?? .identity) == magMatrix && ctf.evenZernike == evenZernike && ctf.oddZernike == oddZernike
    }

    /// One particle's constants (RELION's K1…K5 and the defocus matrix).
    public struct Particle: Sendable {
        let k1: Double, k2: Double, constant: Double, k4: Double, scale: Double
        let axx: Double, axy: Double, ayy: Double
    }

    public func particle(_ p: CTFParameters) -> Particle {
        let lambda = electronWavelength(kilovolts: p.voltage)
        let q0 = p.amplitudeContrast
        let t = p.defocusAngle * Double.pi / 180
        let c = cos(t), s = sin(t)
        let du = -p.defocusU, dv = -p.defocusV
        return Particle(k1: Double.pi * lambda,
                        k2: Double.pi / 2 * (p.sphericalAberration * 1e7) * lambda * lambda * lambda,
                        constant: p.phaseShift * Double.pi / 180 + atan(q0 / (1 - q0 * q0).squareRoot()),
                        k4: -p.bFactor / 4, scale: p.scale,
                        axx: c * c * du + s * s * dv, axy: c * s * (du - dv), ayy: s * s * du + c * c * dv)
    }

    /// γ at pixel `i` (including the even Zernike terms).
    @inline(__always) public func gamma(_ p: Particle, _ i: Int) -> Double {
        Self.gamma(p, xx: xx[i], xy: xy[i], yy: yy[i], even: even[i])
    }

    /// γ from a pixel's geometry (x², xy, y² of M·k and the even Zernike phase).
    @inline(__always) static func gamma(_ p: Particle, xx: Double, xy: Double, yy: Double, even: Double) -> Double {
        let u2 = xx + yy
        return p.k1 * (p.axx * xx + 2 * p.axy * xy + p.ayy * yy) + p.k2 * u2 * u2 - p.constant + even
    }

    /// scale · exp(−B/4 |M k|²) at pixel `i`.
    @inline(__always) public func envelope(_ p: Particle, _ i: Int) -> Double {
        Self.envelope(p, xx: xx[i], yy: yy[i])
    }

    /// scale · exp(−B/4 |M k|²) from a pixel's x² and y² of M·k.
    @inline(__always) static func envelope(_ p: Particle, xx: Double, yy: Double) -> Double {
        p.k4 == 0 ? p.scale : p.scale * exp(p.k4 * (xx + yy))
    }

    /// The CTF value at pixel `i`.
    @inline(__always) public func value(_ p: Particle, _ i: Int) -> Double {
        -sin(gamma(p, i)) * envelope(p, i)
    }

    /// CTF · e^{iφ_odd} at pixel `i`.
    @inline(__always) public func transfer(_ p: Particle, _ i: Int) -> (re: Double, im: Double) {
        let v = value(p, i)
        return hasOdd ? (v * oddCos[i], v * oddSin[i]) : (v, 0)
    }

    /// e^{iφ_odd} at pixel `i`.
    @inline(__always) public func oddPhasor(_ i: Int) -> (re: Double, im: Double) { (oddCos[i], oddSin[i]) }
}
