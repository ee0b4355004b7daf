// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The CTF at a wrong pixel size, and how a defocus fit (or a defocus + Cs fit) at the nominal
// pixel size absorbs the error: the reference text's "Cs and the error in the pixel size"
// (RELION wiki, "Pixel size issues").
//
// A Fourier index i of a box of N pixels is the spatial frequency k_true = i / (N · p_true) in
// truth, but k_nom = i / (N · p_nom) = s · k_true with s = p_true / p_nom when the nominal pixel
// size is believed. CTF fitting (CTFFIND, CtfRefine) at the nominal pixel size therefore finds
// parameters (Δf', Cs') that make CTF(s k; Δf', Cs') match the true CTF(k; Δf, Cs). With only the
// isotropic phase −π λ Δf k² + π/2 Cs λ³ k⁴ involved, the match is exact for Δf' = Δf / s² and
// Cs' = Cs / s⁴; with Cs fixed, Δf' absorbs the error at low resolution only.
//
// Fitting criterion (our choice, documented in the README): least squares of the CTF values
// −sin(γ − K3), sampled uniformly in spatial frequency at the nominal pixel size over the fit
// range (given in Å at the nominal pixel size, as the fitting program sees it). For the reference
// case (5000 Å, 2.7 mm, 300 kV, 0.51 vs 0.54 Å/px, 30–3.5 Å) this gives Δf' ≈ 5526 Å, the
// reference text's number; a fit of the phase γ itself gives ≈ 5527 Å.
//
// Phase agreement, judged on the phase difference Δγ(k) = γ_fit(s k) − γ_true(k):
//   the fit holds (is "almost perfect") while |Δγ| ≤ the tolerance (9° by default; cos 9° = 0.988),
//   the curves are out of phase where cos Δγ < 0 (an FSC between them would be negative), and back
//   in phase where cos Δγ turns positive again (the FSC bump). Resolutions are reported at the true
//   pixel size (and, in `nominalResolution`, at the nominal one).

import Foundation
import AngpixCore

/// What a CTF fit at the nominal pixel size may adjust.
public enum CTFFitMode: String, Sendable, Codable, CaseIterable {
    /// Defocus only, Cs fixed at its (true) value: what CTFFIND and a plain CtfRefine do.
    case defocus = "defocus"
    /// Defocus and Cs together (CtfRefine with 4th-order aberrations, then defocus).
    case defocusAndCs = "defocus+cs"
}

/// A spatial frequency reported as resolutions at the true and at the nominal pixel size.
public struct ResolutionPoint: Sendable, Codable, Equatable {
    /// Resolution in Å at the true pixel size (1 / frequency).
    public var resolution: Double
    /// Spatial frequency in 1/Å at the true pixel size.
    public var frequency: Double
    /// The same Fourier index as a resolution at the nominal pixel size (Å).
    public var nominalResolution: Double
}

/// Where a fitted CTF agrees in phase with the true one.
public struct PhaseAgreement: Sendable, Codable, Equatable {
    /// The fit holds (|Δγ| ≤ tolerance) up to this resolution; nil if it holds to Nyquist.
    public var holdsTo: ResolutionPoint?
    /// True when the fit holds all the way to Nyquist of the true pixel size.
    public var holdsToNyquist: Bool
    /// The first resolution where the curves go out of phase (cos Δγ < 0); nil if never before Nyquist.
    public var outOfPhaseFrom: ResolutionPoint?
    /// The resolutions where the curves come back into phase (cos Δγ turns positive again), in order.
    public var backInPhase: [ResolutionPoint]
    /// The largest |Δγ| inside the fit range, in degrees.
    public var maxPhaseErrorInFitRange: Double
}

/// One fit's result.
public struct CTFFitResult: Sendable, Codable, Equatable {
    public var mode: CTFFitMode
    /// Fitted defocus in Å (at the nominal pixel size).
    public var defocus: Double
    /// Cs in mm: fitted (defocus+cs) or the fixed true value (defocus).
    public var sphericalAberration: Double
    /// Root-mean-square CTF residual over the fit range.
    public var rmsResidual: Double
    public var phase: PhaseAgreement
}

/// The whole simulation's result.
public struct PixelSizeErrorResult: Sendable, Codable {
    public var defocus: Double
    public var sphericalAberration: Double
    public var voltage: Double
    public var amplitudeContrast: Double
    public var trueAngpix: Double
    public var nominalAngpix: Double
    /// The fit range, in Å at the nominal pixel size.
    public var fitFrom: Double
    public var fitTo: Double
    /// Relativistic wavelength in Å.
    public var wavelength: Double
    /// Δf · (p_nom / p_true)²: the defocus that absorbs the error exactly together with…
    public var exactDefocus: Double
    /// …Cs · (p_nom / p_true)⁴.
    public var exactSphericalAberration: Double
    /// The CTF with the true parameters at the nominal pixel size (no refit).
    public var uncorrected: PhaseAgreement
    public var fits: [CTFFitResult]
    /// Curves for plotting, against the true spatial frequency.
    public var curves: CTFCurves

    /// The fit of a given mode, if it was made.
    public func fit(_ mode: CTFFitMode) -> CTFFitResult? { fits.first { $0.mode == mode } }
}

/// CTF curves sampled against the true spatial frequency (1/Å).
public struct CTFCurves: Sendable, Codable {
    public var frequency: [Double]
    /// The CTF as it is (true pixel size, true parameters).
    public var truth: [Double]
    /// The CTF computed at the nominal pixel size with the true parameters.
    public var nominal: [Double]
    /// The fitted CTFs at the nominal pixel size, in the order of `PixelSizeErrorResult.fits`.
    public var fitted: [[Double]]
}

/// The reference text's experiment, for any defocus, Cs, voltage and pair of pixel sizes.
public struct PixelSizeErrorSimulation: Sendable {
    public var defocus: Double
    public var sphericalAberration: Double
    public var voltage: Double
    public var amplitudeContrast: Double
    public var trueAngpix: Double
    public var nominalAngpix: Double
    /// Fit range in Å at the nominal pixel size (low- and high-resolution ends).
    public var fitFrom: Double
    public var fitTo: Double
    public var fitModes: [CTFFitMode]
    /// Phase tolerance in degrees for "the fit holds".
    public var phaseTolerance: Double
    /// Number of fit samples, uniform in frequency over the fit range.
    public var fitSamples: Int
    /// Curves run from 0 to this true spatial frequency (1/Å); nil = Nyquist of the true pixel size.
    public var curveMaxFrequency: Double?
    public var curveSamples: Int

    public init(defocus: Double, sphericalAberration: Double, voltage: Double, trueAngpix: Double,
                nominalAngpix: Double, amplitudeContrast: Double = 0.1, fitFrom: Double = 30, fitTo: Double = 3.5,
                fitModes: [CTFFitMode] = CTFFitMode.allCases, phaseTolerance: Double = 9,
                fitSamples: Int = 1000, curveMaxFrequency: Double? = nil, curveSamples: Int = 1500) {
        self.defocus = defocus
        self.sphericalAberration = sphericalAberration
        self.voltage = voltage
        self.amplitudeContrast = amplitudeContrast
        self.trueAngpix = trueAngpix
        self.nominalAngpix = nominalAngpix
        self.fitFrom = fitFrom
        self.fitTo = fitTo
        self.fitModes = fitModes
        self.phaseTolerance = phaseTolerance
        self.fitSamples = fitSamples
        self.curveMaxFrequency = curveMaxFrequency
        self.curveSamples = curveSamples
    }

    /// The reference text's case: defocus 5000 Å, Cs 2.7 mm, 300 kV, truly 0.51 Å/px but
    /// believed to be 0.54 Å/px, fitted over 30–3.5 Å.
    public static let referenceCase = PixelSizeErrorSimulation(
        defocus: 5000, sphericalAberration: 2.7, voltage: 300, trueAngpix: 0.51, nominalAngpix: 0.54)

    /// p_true / p_nom.
    var s: Double { trueAngpix / nominalAngpix }

    func validate() throws {
        func positive(_ name: String, _ v: Double, _ unit: String) throws {
            guard v.isFinite, v > 0 else { throw OpticsError.invalidParameter(name, v, "must be positive (\(unit))") }
        }
        try positive("defocus", defocus, "Å, underfocus")
        try positive("voltage", voltage, "kV")
        try positive("true pixel size", trueAngpix, "Å")
        try positive("nominal pixel size", nominalAngpix, "Å")
        try positive("fit-from", fitFrom, "Å")
        try positive("fit-to", fitTo, "Å")
        guard sphericalAberration.isFinite, sphericalAberration >= 0 else {
            throw OpticsError.invalidParameter("Cs", sphericalAberration, "must be zero or positive (mm)")
        }
        guard amplitudeContrast.isFinite, amplitudeContrast >= 0, amplitudeContrast < 1 else {
            throw OpticsError.invalidParameter("amplitude contrast", amplitudeContrast, "must be in [0, 1)")
        }
        guard fitFrom > fitTo else {
            throw OpticsError.invalidParameter("fit-from", fitFrom, "must be a lower resolution (larger Å) than fit-to = \(formatSignificant(fitTo))")
        }
        guard fitTo >= 2 * nominalAngpix else {
            throw OpticsError.invalidParameter("fit-to", fitTo, "is beyond Nyquist of the nominal pixel size (\(formatSignificant(2 * nominalAngpix)) Å)")
        }
        guard phaseTolerance > 0, phaseTolerance < 90 else {
            throw OpticsError.invalidParameter("phase tolerance", phaseTolerance, "must be between 0 and 90 degrees")
        }
        guard fitSamples >= 10, curveSamples >= 10 else {
            throw OpticsError.invalidParameter("samples", Double(min(fitSamples, curveSamples)), "need at least 10")
        }
        if let m = curveMaxFrequency { try positive("curve maximum frequency", m, "1/Å") }
    }

    /// Runs the fits and the phase analysis.
    public func run() throws -> PixelSizeErrorResult {
        try validate()
        let lambda = electronWavelength(kilovolts: voltage)
        let q0 = amplitudeContrast
        let k3 = atan(q0 / (1 - q0 * q0).squareRoot())
        let s = self.s
        // The true phase at true frequency k.
        let gTrue = { (k: Double) in CTF.isotropicGamma(frequency: k, defocus: defocus, cs: sphericalAberration, wavelength: lambda) }

        // Fit samples: uniform in nominal frequency; the target is the true CTF of the same index.
        let kLo = 1 / fitFrom, kHi = 1 / fitTo
        let kn = (0..<fitSamples).map { kLo + (kHi - kLo) * Double($0) / Double(fitSamples - 1) }
        let target = kn.map { -sin(gTrue($0 / s) - k3) }

        var fits: [CTFFitResult] = []
        let nyquistTrue = 1 / (2 * trueAngpix)
        for mode in fitModes {
            let (df, cs, cost) = try fit(mode: mode, kn: kn, target: target, lambda: lambda, k3: k3, kHi: kHi)
            let phase = phaseAgreement(defocus: df, cs: cs, lambda: lambda, maxFrequency: nyquistTrue)
            fits.append(CTFFitResult(mode: mode, defocus: df, sphericalAberration: cs,
                                     rmsResidual: (cost / Double(kn.count)).squareRoot(), phase: phase))
        }
        let uncorrected = phaseAgreement(defocus: defocus, cs: sphericalAberration, lambda: lambda, maxFrequency: nyquistTrue)

        // Curves against the true frequency.
        let kMax = curveMaxFrequency ?? nyquistTrue
        let freq = (0..<curveSamples).map { kMax * Double($0) / Double(curveSamples - 1) }
        let ctfAt = { (k: Double, df: Double, cs: Double) in
            -sin(CTF.isotropicGamma(frequency: k, defocus: df, cs: cs, wavelength: lambda) - k3)
        }
        let curves = CTFCurves(frequency: freq,
                               truth: freq.map { ctfAt($0, defocus, sphericalAberration) },
                               nominal: freq.map { ctfAt(s * $0, defocus, sphericalAberration) },
                               fitted: fits.map { f in freq.map { ctfAt(s * $0, f.defocus, f.sphericalAberration) } })
        return PixelSizeErrorResult(
            defocus: defocus, sphericalAberration: sphericalAberration, voltage: voltage,
            amplitudeContrast: amplitudeContrast, trueAngpix: trueAngpix, nominalAngpix: nominalAngpix,
            fitFrom: fitFrom, fitTo: fitTo, wavelength: lambda,
            exactDefocus: defocus / (s * s), exactSphericalAberration: sphericalAberration / (s * s * s * s),
            uncorrected: uncorrected, fits: fits, curves: curves)
    }

    /// Least squares of the CTF values over the fit samples: grid search, then refinement.
    func fit(mode: CTFFitMode, kn: [Double], target: [Double], lambda: Double, k3: Double,
             kHi: Double) throws -> (defocus: Double, cs: Double, cost: Double) {
        let pi = Double.pi
        let cost = { (df: Double, cs: Double) -> Double in
            var sum = 0.0
            for i in 0..<kn.count {
                let r = -sin(CTF.isotropicGamma(frequency: kn[i], defocus: df, cs: cs, wavelength: lambda) - k3) - target[i]
                sum += r * r
            }
            return sum
        }
        // Grid steps that change the phase at the highest fitted frequency by π/16.
        let dfStep = (pi / 16) / (pi * lambda * kHi * kHi)
        let exact = defocus / (s * s)
        let dfLo = 0.5 * min(defocus, exact), dfHi = 2 * max(defocus, exact)
        let dfGrid = stride(from: dfLo, through: dfHi, by: dfStep).map { $0 }
        switch mode {
        case .defocus:
            var best = (df: dfGrid[0], c: Double.infinity)
            for df in dfGrid {
                let c = cost(df, sphericalAberration)
                if c < best.c { best = (df, c) }
            }
            let df = goldenSectionMinimum(best.df - dfStep, best.df + dfStep, tolerance: 1e-7) { cost($0, sphericalAberration) }.midpoint
            return (df, sphericalAberration, cost(df, sphericalAberration))
        case .defocusAndCs:
            let perMM = pi / 2 * 1e7 * lambda * lambda * lambda * pow(kHi, 4)
            let csStep = (pi / 16) / perMM
            let exactCs = sphericalAberration / pow(s, 4)
            let csHi = 2 * max(sphericalAberration, exactCs, 0.5)
            var candidates: [(df: Double, cs: Double, c: Double)] = []
            for cs in stride(from: 0, through: csHi, by: csStep) {
                for df in dfGrid { candidates.append((df, cs, cost(df, cs))) }
            }
            candidates.sort { $0.c < $1.c }
            var best = (df: 0.0, cs: 0.0, c: Double.infinity)
            for start in candidates.prefix(8) {
                let (p, c) = levenbergMarquardt(start: [start.df, start.cs]) { p in
                    var r = [Double](repeating: 0, count: kn.count)
                    var J = [[Double]](repeating: [0, 0], count: kn.count)
                    for i in 0..<kn.count {
                        let k = kn[i], k2 = k * k
                        let g = CTF.isotropicGamma(frequency: k, defocus: p[0], cs: p[1], wavelength: lambda) - k3
                        r[i] = -sin(g) - target[i]
                        let c = -cos(g)
                        J[i] = [c * (-pi * lambda * k2), c * (pi / 2 * 1e7 * lambda * lambda * lambda * k2 * k2)]
                    }
                    return (r, J)
                }
                if c < best.c { best = (p[0], p[1], c) }
            }
            guard best.c.isFinite else { throw OpticsError.fitFailed("no finite defocus and Cs found") }
            return (best.df, best.cs, best.c)
        }
    }

    /// Phase agreement of the CTF (df, cs) at the nominal pixel size with the true one, up to `maxFrequency` (true 1/Å).
    func phaseAgreement(defocus df: Double, cs: Double, lambda: Double, maxFrequency: Double) -> PhaseAgreement {
        let s = self.s
        let dGamma = { (k: Double) -> Double in
            CTF.isotropicGamma(frequency: s * k, defocus: df, cs: cs, wavelength: lambda)
                - CTF.isotropicGamma(frequency: k, defocus: self.defocus, cs: self.sphericalAberration, wavelength: lambda)
        }
        let point = { (k: Double) in ResolutionPoint(resolution: 1 / k, frequency: k, nominalResolution: 1 / (s * k)) }
        let tol = phaseTolerance * Double.pi / 180
        let n = 20000
        let step = maxFrequency / Double(n)
        /// The crossing of f from ≤ 0 to > 0 between a and b, by bisection.
        func crossing(_ a: Double, _ b: Double, _ f: (Double) -> Double) -> Double {
            var lo = a, hi = b
            for _ in 0..<60 { let mid = (lo + hi) / 2; if f(mid) > 0 { hi = mid } else { lo = mid } }
            return (lo + hi) / 2
        }
        var holds: ResolutionPoint?
        var out: ResolutionPoint?
        var back: [ResolutionPoint] = []
        let beyondTolerance = { (k: Double) in abs(dGamma(k)) - tol }
        let outOfPhase = { (k: Double) in -cos(dGamma(k)) }   // > 0 when out of phase
        var prevK = 0.0
        var prevOut = outOfPhase(0)
        for i in 1...n {
            let k = Double(i) * step
            if holds == nil && beyondTolerance(k) > 0 {
                holds = point(crossing(prevK, k, beyondTolerance))
            }
            let o = outOfPhase(k)
            if prevOut <= 0 && o > 0 && out == nil {
                out = point(crossing(prevK, k, outOfPhase))
            } else if prevOut > 0 && o <= 0 && out != nil {
                back.append(point(crossing(prevK, k) { -outOfPhase($0) }))
            }
            prevOut = o
            prevK = k
        }
        // Largest phase error inside the fit range (given at the nominal pixel size).
        var maxErr = 0.0
        let lo = 1 / fitFrom / s, hi = 1 / fitTo / s
        for i in 0...500 { maxErr = max(maxErr, abs(dGamma(lo + (hi - lo) * Double(i) / 500))) }
        return PhaseAgreement(holdsTo: holds, holdsToNyquist: holds == nil, outOfPhaseFrom: out, backInPhase: back,
                              maxPhaseErrorInFitRange: maxErr * 180 / Double.pi)
    }
}
