// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The post-processing pipeline of relion_postprocess 3.1 (src/postprocessing.cpp Postprocessing::run),
// reimplemented on angpix's FFTs:
//   FSC of the unmasked half maps; FSC of the masked half maps; phase randomisation of the unmasked
//   half maps beyond the first shell (> 0) where the unmasked FSC drops below 0.8, then masking and
//   the FSC of those; the corrected FSC = masked FSC up to randomise-shell + 1, and
//   (FSC_masked − FSC_random)/(1 − FSC_random) from randomise-shell + 2 on (RELION moves the
//   switch two shells out "because of small artefacts near the resolution of randomisation");
//   the final resolution = N·pixel/i for the last shell i before the corrected FSC first drops
//   below 0.143 (if the unmasked FSC reaches further, RELION falls back to it unless the mask is
//   forced); the cisTEM-like "particle mask fraction" FSC f·FSC/(1+(f−1)·FSC) with f = 0.476 /
//   (fraction of mask voxels > 0.5); then sharpening of (half1 + half2)/2 (Sharpening.swift).
// The pixel size (header, or --angpix) sets every Å value: the resolution axis, the 10 Å start of
// the B-factor fit, the B-factor in Å², the output headers.
//
// Memory: at most the two half maps, the mask and two spectra are held at once (≈ 5 maps); the
// half maps are read a second time instead of being kept, as RELION does.

import Foundation
import AngpixCore
import AngpixMRC
import AngpixFourier

/// What to do, with relion_postprocess's defaults.
public struct PostprocessOptions: Sendable {
    /// Pixel size in Å overriding the half maps' headers (RELION's --angpix); nil = header.
    public var pixelSize: Double?
    /// Fit the B-factor from the Guinier plot (RELION's --auto_bfac).
    public var autoBFactor = false
    /// A given B-factor in Å² (RELION's --adhoc_bfac; negative sharpens). Ignored with autoBFactor.
    public var bFactor: Double = 0
    /// Lowest resolution (Å) in the B-factor fit (RELION's --autob_lowres).
    public var fitFrom: Double = 10
    /// Highest resolution (Å) in the B-factor fit; 0 = no limit (RELION's --autob_highres).
    public var fitUntil: Double = 0
    /// Skip the FSC weighting (RELION's --skip_fsc_weighting).
    public var skipFSCWeighting = false
    /// Low-pass filter: 0 = none (RELION 3.1.3's default), > 0 = at this resolution in Å,
    /// < 0 = at the final resolution (RELION's --low_pass).
    public var lowPass: Double = 0
    /// Width of the low-pass filter's raised-cosine edge in shells (RELION's --filter_edge_width).
    public var filterEdgeWidth = 2
    /// Randomise phases where the unmasked FSC drops below this (RELION's --randomize_at_fsc).
    public var randomizeAtFSC = 0.8
    /// Randomise phases from this resolution in Å instead (RELION's --randomize_at_A), if > 0.
    public var randomizeAtAngstrom: Double = -1
    /// Use the mask even if the unmasked FSC extends further (RELION's --force_mask).
    public var forceMask = false
    /// Seed of the phase randomisation; RELION's default 0 reproduces its numbers exactly.
    public var randomSeed: UInt32 = 0

    public init() {}
}

/// Everything relion_postprocess reports, plus the sharpened map.
public struct PostprocessResult: Sendable {
    /// Box size N and the pixel size used (Å).
    public var size: Int
    public var pixelSize: Double
    /// FSC curves, one value per shell 0 … N/2.
    public var fscUnmasked: [Double]
    public var fscMasked: [Double]?
    public var fscRandomMasked: [Double]?
    public var fscCorrected: [Double]
    public var fscParticleMaskFraction: [Double]?
    /// f = 0.476 / (fraction of mask voxels above 0.5) (rlnParticleBoxFractionSolventMask).
    public var solventMaskFraction: Double?
    /// Shell from which phases were randomised.
    public var randomiseFromShell: Int?
    /// Last shell before the corrected FSC drops below 0.143, and its resolution in Å.
    public var finalResolutionShell: Int
    public var finalResolution: Double
    /// The corrected FSC never drops below 0.143: the resolution is Nyquist-limited.
    public var reachesNyquist: Bool
    /// B-factor applied (Å²) and the Guinier fit if it was fitted.
    public var bFactor: Double
    public var fit: GuinierFit?
    /// Resolution (Å) the map was low-pass filtered at, if any.
    public var lowPassFilter: Double?
    /// Guinier plot rows.
    public var guinier: [GuinierPoint]
    /// Warnings RELION would print (mask fallback, high randomised FSC, header disagreement…).
    public var warnings: [String]
    /// The sharpened map, and the same multiplied by the mask.
    public var map: MRCMap
    public var maskedMap: MRCMap?

    /// Resolution in Å of shell i (RELION writes 999 for shell 0).
    public func resolution(shell i: Int) -> Double {
        i > 0 ? Double(size) * pixelSize / Double(i) : 999
    }
}

/// Post-processing of two half maps (see the file comment for the algorithm).
public enum Postprocessor {
    /// Runs the whole pipeline. `progress` receives (step, steps).
    public static func run(half1: String, half2: String, mask maskPath: String?,
                           options: PostprocessOptions,
                           progress: ProgressHandler? = nil) throws -> PostprocessResult {
        try validate(options)
        var warnings: [String] = []
        let steps = maskPath == nil ? 5 : 10
        var step = 0
        func advance() { step += 1; progress?(step, steps) }

        // Headers first: shapes and pixel sizes, before reading any voxels.
        let h1 = try MRCFile.readHeader(path: half1)
        let h2 = try MRCFile.readHeader(path: half2)
        let n = h1.nx
        guard h1.nx == h1.ny, h1.ny == h1.nz else { throw PostprocessError.notCubic(path: half1, nx: h1.nx, ny: h1.ny, nz: h1.nz) }
        guard [h2.nx, h2.ny, h2.nz] == [h1.nx, h1.ny, h1.nz] else {
            throw PostprocessError.shapeMismatch(path: half2, shape: [h2.nx, h2.ny, h2.nz], otherPath: half1, otherShape: [h1.nx, h1.ny, h1.nz])
        }
        guard n >= 8 else { throw PostprocessError.tooSmall(path: half1, size: n) }
        let p1 = headerPixelSize(h1), p2 = headerPixelSize(h2)
        let pixelSize: Double
        if let given = options.pixelSize {
            pixelSize = given
            if abs(p1 - p2) > 1e-4 * max(p1, p2) {
                warnings.append("the half maps' headers disagree on the pixel size (\(formatSignificant(p1)) and \(formatSignificant(p2)) Å); using --angpix \(formatSignificant(given)) Å")
            }
        } else {
            guard p1 > 0, p1.isFinite else { throw PostprocessError.invalidPixelSize(path: half1, pixelSize: p1) }
            guard abs(p1 - p2) <= 1e-4 * max(p1, p2) else {
                throw PostprocessError.pixelSizeMismatch(path: half2, pixelSize: p2, otherPath: half1, otherPixelSize: p1)
            }
            pixelSize = p1
        }
        var mask: [Float]? = nil
        var solventFraction: Double? = nil
        if let maskPath {
            let hm = try MRCFile.readHeader(path: maskPath)
            guard [hm.nx, hm.ny, hm.nz] == [n, n, n] else {
                throw PostprocessError.shapeMismatch(path: maskPath, shape: [hm.nx, hm.ny, hm.nz], otherPath: half1, otherShape: [n, n, n])
            }
            let m = try readFinite(maskPath).data
            var lo = Float.infinity, hi = -Float.infinity, above = 0
            for v in m { lo = min(lo, v); hi = max(hi, v); if v > 0.5 { above += 1 } }
            if Double(lo) < -1e-6 || Double(hi) - 1 > 1e-6 {
                throw PostprocessError.maskOutOfRange(path: maskPath, minimum: Double(lo), maximum: Double(hi))
            }
            if hi <= 0 { throw PostprocessError.emptyMask(path: maskPath) }
            if above > 0 { solventFraction = 0.476 / (Double(above) / Double(m.count)) }
            else { solventFraction = .infinity }
            mask = m
        }

        let shells = try FourierShells(cubeOfSize: n)
        let plan = try RealFFTPlan.cached(shape: [n, n, n])
        var specA = [Complex32](repeating: .zero, count: plan.spectrumCount)
        var specB = [Complex32](repeating: .zero, count: plan.spectrumCount)

        // Masked FSC first (the half maps are multiplied by the mask in place, then read again).
        var fscMasked: [Double]? = nil
        var map1 = try readFinite(half1).data
        var map2 = try readFinite(half2).data
        advance()
        if let mask {
            multiply(&map1, by: mask); multiply(&map2, by: mask)
            forwardPair(plan, map1, map2, &specA, &specB)
            fscMasked = specA.withUnsafeBufferPointer { a in specB.withUnsafeBufferPointer { b in shells.fsc(a, b) } }
            map1 = []; map2 = []   // free before reading again: never three half maps at once
            map1 = try readFinite(half1).data
            map2 = try readFinite(half2).data
            advance()
        }

        // Unmasked FSC.
        forwardPair(plan, map1, map2, &specA, &specB)
        let fscUnmasked = specA.withUnsafeBufferPointer { a in specB.withUnsafeBufferPointer { b in shells.fsc(a, b) } }
        advance()

        // The average of the half maps is all that is left to sharpen; map2 becomes scratch.
        average(&map1, map2)

        var fscCorrected = fscUnmasked
        var fscRandom: [Double]? = nil
        var fscPart: [Double]? = nil
        var randomiseShell: Int? = nil
        if let mask, var masked = fscMasked {
            var shell = -1
            if options.randomizeAtAngstrom > 0 {
                shell = Int(pixelSize * Double(n) / options.randomizeAtAngstrom)
            } else {
                for i in 1..<fscUnmasked.count where fscUnmasked[i] < options.randomizeAtFSC { shell = i; break }
            }
            guard shell > 0 else { throw PostprocessError.fscNeverDropsBelow(threshold: options.randomizeAtFSC) }
            randomiseShell = shell
            var random = GlibcRandom(seed: options.randomSeed)
            // RELION randomises half 1, then half 2, drawing from one generator.
            func randomizeAndMask(_ spec: inout [Complex32]) {
                spec.withUnsafeMutableBufferPointer { shells.randomizePhases($0, beyondShell: shell, random: &random) }
                inverse(plan, spec, into: &map2)
                multiply(&map2, by: mask)
                forward(plan, map2, into: &spec)
                advance()
            }
            randomizeAndMask(&specA)
            randomizeAndMask(&specB)
            var r = specA.withUnsafeBufferPointer { a in specB.withUnsafeBufferPointer { b in shells.fsc(a, b) } }
            if masked[0] <= 0 { masked[0] = 1 }
            if r[0] <= 0 { r[0] = 1 }
            fscCorrected = (0..<masked.count).map { i in
                i < shell + 2 ? masked[i] : (masked[i] - r[i]) / (1 - r[i])
            }
            let f = solventFraction ?? 1
            fscPart = fscUnmasked.map { f * $0 / (1 + (f - 1) * $0) }
            fscMasked = masked
            fscRandom = r
            advance()
        }

        // Final resolution: the last shell before the corrected FSC first drops below 0.143.
        var finalShell = 0
        var reachedEnd = true
        for (i, v) in fscCorrected.enumerated() {
            if v < 0.143 { reachedEnd = false; break }
            finalShell = i
        }
        if let random = fscRandom {
            var unmaskedShell = 0
            for (i, v) in fscUnmasked.enumerated() {
                if v < 0.143 { break }
                unmaskedShell = i
            }
            if unmaskedShell > finalShell {
                if options.forceMask {
                    warnings.append("the unmasked FSC extends beyond the solvent-corrected FSC")
                } else {
                    warnings.append("the unmasked FSC extends beyond the solvent-corrected FSC: the mask is not used for the resolution (as RELION does); adjust the mask or use --force-mask")
                    fscCorrected = fscUnmasked
                    finalShell = unmaskedShell
                    reachedEnd = !fscUnmasked.contains { $0 < 0.143 }
                }
            } else if random[finalShell] > 0.1 {
                warnings.append("the phase-randomised FSC is larger than 0.10 at the estimated resolution; a softer mask with fewer features would give a more reliable estimate")
            }
        }
        let finalResolution = Double(n) * pixelSize / Double(finalShell)   // +inf if shell 0 (RELION: 999)
        if reachedEnd {
            warnings.append("the corrected FSC never drops below 0.143: the resolution is limited by Nyquist (\(formatSignificant(2 * pixelSize)) Å) and may be better than reported")
        }
        if finalShell == 0 {
            warnings.append("the corrected FSC is below 0.143 from the first shell on: the half maps do not agree")
        }

        // Sharpen (half1 + half2)/2.
        forward(plan, map1, into: &specA)
        let rows = guinierShells(size: n, pixelSize: pixelSize)
        let original = specA.withUnsafeBufferPointer { guinierValues(shells, $0, rows: rows) }
        if !options.skipFSCWeighting {
            let w = fscWeights(fscCorrected)
            specA.withUnsafeMutableBufferPointer { a in
                shells.scale(a, byShell: { s in s >= 0 ? w[s] : 0 })
            }
        }
        let weighted = specA.withUnsafeBufferPointer { guinierValues(shells, $0, rows: rows) }
        var bFactor = 0.0
        var fit: GuinierFit? = nil
        if options.autoBFactor {
            var xs: [Double] = [], ys: [Double] = [], ws: [Double] = []
            for (k, r) in rows.enumerated() {
                xs.append(1 / (r.d * r.d)); ys.append(weighted[k])
                ws.append(weighted[k] > -99 && r.d <= options.fitFrom && r.d >= options.fitUntil ? 1 : 0)
            }
            let f = fitStraightLine(x: xs, y: ys, w: ws)
            fit = f
            bFactor = 4 * f.slope
            if f.points < 2 {
                warnings.append("fewer than two shells between \(formatSignificant(options.fitFrom)) Å and the limit of the FSC weighting: no B-factor could be fitted")
            }
        } else if options.bFactor != 0 {
            bFactor = options.bFactor
        }
        if bFactor != 0 {
            let boxAngstrom = Double(n) * pixelSize
            let nyquist = 1 / (pixelSize * 2)
            specA.withUnsafeMutableBufferPointer { a in
                shells.scale(a) { (r2: Double) in
                    let s = r2.squareRoot() / boxAngstrom
                    return s <= nyquist ? Float(exp(-(bFactor / 4) * s * s)) : 0
                }
            }
        }
        let sharpened = specA.withUnsafeBufferPointer { guinierValues(shells, $0, rows: rows) }
        var lowPassAt: Double? = nil
        if options.lowPass != 0 {
            let at = options.lowPass < 0 ? finalResolution : options.lowPass
            lowPassAt = at
            let filterShell = Int((Double(n) * pixelSize / at + 0.5).rounded(.down))
            let half = options.filterEdgeWidth / 2
            let edgeLow = max(0, Double(filterShell - half) / Double(n))
            let edgeHigh = min(Double(shells.count), Double(filterShell + half) / Double(n))
            let width = edgeHigh - edgeLow
            specA.withUnsafeMutableBufferPointer { a in
                shells.scale(a) { (r2: Double) in
                    let s = r2.squareRoot() / Double(n)
                    if s < edgeLow { return 1 }
                    if s > edgeHigh { return 0 }
                    return Float(0.5 + 0.5 * cos(Double.pi * (s - edgeLow) / width))
                }
            }
        }
        inverse(plan, specA, into: &map1)
        specA = []; specB = []; map2 = []   // only the sharpened map and the mask are left
        advance()

        let guinier = rows.indices.map { k in
            GuinierPoint(resolutionSquared: 1 / (rows[k].d * rows[k].d), original: original[k],
                         weighted: options.skipFSCWeighting ? original[k] : weighted[k], sharpened: sharpened[k])
        }
        let outMap = MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize, data: map1)
        var masked: MRCMap? = nil
        if let mask {
            multiply(&map1, by: mask)
            masked = MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize, data: map1)
        }
        advance()
        return PostprocessResult(
            size: n, pixelSize: pixelSize, fscUnmasked: fscUnmasked, fscMasked: fscMasked,
            fscRandomMasked: fscRandom, fscCorrected: fscCorrected, fscParticleMaskFraction: fscPart,
            solventMaskFraction: solventFraction, randomiseFromShell: randomiseShell,
            finalResolutionShell: finalShell, finalResolution: finalResolution, reachesNyquist: reachedEnd,
            bFactor: bFactor, fit: fit, lowPassFilter: lowPassAt, guinier: guinier, warnings: warnings,
            map: outMap, maskedMap: masked)
    }

    static func validate(_ o: PostprocessOptions) throws {
        if let p = o.pixelSize, !(p > 0 && p.isFinite) { throw PostprocessError.invalidOption("--angpix must be a positive number of Å, not \(formatSignificant(p))") }
        if !(o.fitFrom > 0) { throw PostprocessError.invalidOption("--fit-from must be a positive resolution in Å, not \(formatSignificant(o.fitFrom))") }
        if !(o.fitUntil >= 0) || o.fitUntil >= o.fitFrom { throw PostprocessError.invalidOption("--fit-until (\(formatSignificant(o.fitUntil)) Å) must be 0 or a resolution finer than --fit-from (\(formatSignificant(o.fitFrom)) Å)") }
        if !o.bFactor.isFinite { throw PostprocessError.invalidOption("--bfactor must be a number of Å²") }
        if o.autoBFactor && o.bFactor != 0 { throw PostprocessError.invalidOption("give either --auto-bfactor or --bfactor, not both") }
        if o.filterEdgeWidth < 0 { throw PostprocessError.invalidOption("--filter-edge-width must be 0 or more shells") }
        if !(o.randomizeAtFSC > 0 && o.randomizeAtFSC < 1) { throw PostprocessError.invalidOption("--randomize-at-fsc must lie between 0 and 1") }
    }

    /// The pixel size in a header: cell length / sampling (RELION's samplingRateX), from the float header.
    static func headerPixelSize(_ h: MRCHeader) -> Double {
        let m = h.mx > 0 ? h.mx : h.nx
        return Double(h.cella.x) / Double(m)
    }

    /// Reads a map and refuses NaN or infinite voxels, naming the first one.
    static func readFinite(_ path: String) throws -> MRCMap {
        let map = try MRCFile.readMap(path: path)
        let bad: Int? = map.data.withUnsafeBufferPointer { d in
            for i in 0..<d.count where !d[i].isFinite { return i }
            return nil
        }
        if let i = bad {
            throw PostprocessError.notFinite(path: path, x: i % map.nx, y: (i / map.nx) % map.ny, z: i / (map.nx * map.ny))
        }
        return map
    }

    static func multiply(_ a: inout [Float], by m: [Float]) {
        a.withUnsafeMutableBufferPointer { p in
            m.withUnsafeBufferPointer { q in
                nonisolated(unsafe) let p = p
                let parts = splitRange(p.count, into: Parallelism.jobs)
                parallelForEach(parts.count) { c in for i in parts[c] { p[i] *= q[i] } }
            }
        }
    }

    static func average(_ a: inout [Float], _ b: [Float]) {
        a.withUnsafeMutableBufferPointer { p in
            b.withUnsafeBufferPointer { q in
                nonisolated(unsafe) let p = p
                let parts = splitRange(p.count, into: Parallelism.jobs)
                parallelForEach(parts.count) { c in for i in parts[c] { p[i] = (p[i] + q[i]) * 0.5 } }
            }
        }
    }

    static func forward(_ plan: RealFFTPlan, _ input: [Float], into out: inout [Complex32]) {
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in plan.forward(i, o) } }
    }

    /// Both half maps' transforms (each transform uses all cores).
    static func forwardPair(_ plan: RealFFTPlan, _ a: [Float], _ b: [Float], _ sa: inout [Complex32], _ sb: inout [Complex32]) {
        forward(plan, a, into: &sa)
        forward(plan, b, into: &sb)
    }

    static func inverse(_ plan: RealFFTPlan, _ spectrum: [Complex32], into out: inout [Float]) {
        spectrum.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { o in plan.inverse(s, o) } }
    }
}
