// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix calibrate rings`: the absolute pixel size and the anisotropic magnification
// from images of a diffraction standard. The steps (docs/calibrate-rings.md):
//   1. tile-averaged power spectra of every image (PowerSpectrum.swift), averaged over images;
//   2. for every ring of the standard inside Nyquist: a search of the band ±b around the radius
//      the nominal pixel size predicts, on the profile summed over all directions
//      (RingProfileFit.swift), which decides whether the ring is there;
//   3. in sectors of `sectorWidth` degrees over [0°, 180°) (the spectrum is centrosymmetric, so
//      each sector holds its opposite too) the ring's radius with an error;
//   4. one weighted linear fit of G = MᵀM over all rings and sectors (MagnificationFit.swift),
//      repeated once with the sectors' windows centred on the radii G predicts;
//   5. the same for every image's spectrum (or for four interleaved groups of tiles when there is
//      one image), whose spread gives a second uncertainty; and G of every ring on its own.

import Foundation
import AngpixCore
import AngpixOptics

/// Options of the ring calibration.
public struct RingsOptions: Sendable {
    /// Tile size for the power spectra (pixels; a power of two is fastest).
    public var tileSize: Int = 512
    /// The half-width of the search band around each ring, as a fraction of its radius.
    public var searchBand: Double = 0.05
    /// The width of the angular sectors (degrees; 180 must be a multiple of it).
    public var sectorWidth: Double = 5
    /// Tile groups used for the spread when there is only one image.
    public var groupsForSingleImage: Int = 4

    public init(tileSize: Int = 512, searchBand: Double = 0.05, sectorWidth: Double = 5) {
        self.tileSize = tileSize; self.searchBand = searchBand; self.sectorWidth = sectorWidth
    }
}

/// A value with its uncertainty from the fit and from the spread between images (or tile groups).
public struct Measured: Sendable, Codable, Equatable {
    public var value: Double
    /// The standard error from the fit's covariance (scaled by the reduced χ² when above 1).
    public var fitError: Double
    /// The standard error of the mean from the spread between images (std / √n); nil with one.
    public var spreadError: Double?
    /// The standard deviation between single-image (or tile-group) estimates.
    public var spreadStd: Double?
}

/// One ring's result.
public struct RingResult: Sendable, Codable, Equatable {
    public var label: String
    public var spacing: Double
    /// Whether the ring was found and used.
    public var used: Bool
    /// Why not, when it was not.
    public var note: String?
    /// The band searched, in 1/Å at the nominal pixel size, and the pixel sizes it corresponds to.
    public var searchedFrequency: [Double]
    public var searchedPixelSize: [Double]
    /// The significance of the peak in the profile over all directions (amplitude / its error).
    public var significance: Double?
    /// Sectors used / sectors fitted.
    public var sectorsUsed: Int
    public var sectors: Int
    /// The mean radius: in spectrum pixels (tiles of `tileSize`) and in 1/Å at the nominal pixel size.
    public var meanRadiusPixels: Double?
    public var meanFrequency: Double?
    /// The peak width (Gaussian σ, spectrum pixels).
    public var peakWidthPixels: Double?
    /// The mean pixel size, anisotropy and angle from this ring alone.
    public var pixelSize: Measured?
    public var anisotropyPercent: Measured?
}

/// One image's (or tile group's) own estimate.
public struct SingleEstimate: Sendable, Codable, Equatable {
    public var source: String
    public var pixelSize: Double
    public var anisotropyPercent: Double
    public var majorAxisAngle: Double
    public var sectorsUsed: Int
}

/// MotionCor2's `-Mag major minor angle` (see docs/calibrate-rings.md for the convention).
public struct MotionCor2Mag: Sendable, Codable, Equatable {
    public var major: Double
    public var minor: Double
    /// Degrees: minus the major-axis angle of angpix (MotionCor2's y axis points the other way).
    public var angle: Double
    /// The pixel size to give with -PixSize (the calibrated mean pixel size).
    public var pixelSize: Double
    public var arguments: String
}

/// The result of `calibrate rings`.
public struct RingsCalibrationResult: Sendable, Codable, Equatable {
    public var title = "Pixel size and magnification distortion from diffraction rings"
    public var standard: String
    public var images: [String]
    public var nominalPixelSize: Double
    public var tileSize: Int
    public var tiles: Int
    public var sectorWidth: Double
    public var searchBand: Double
    /// The calibrated mean pixel size p / √det M.
    public var pixelSize: Measured
    /// Eigenvalues of M (true / observed frequency along the minor and major axes).
    public var magnificationMinorAxis: Measured
    public var magnificationMajorAxis: Measured
    /// Pixel sizes along the major axis (p / m_min, the largest) and the minor axis (p / m_max).
    public var majorAxisPixelSize: Measured
    public var minorAxisPixelSize: Measured
    /// √(m_max / m_min) and its inverse.
    public var majorScale: Measured
    public var minorScale: Measured
    /// Degrees from image +x towards +y, (−90, 90].
    public var majorAxisAngle: Measured
    /// (m_max / m_min − 1) · 100.
    public var anisotropyPercent: Measured
    /// Whether the anisotropy exceeds twice its uncertainty (otherwise the angle means nothing).
    public var anisotropySignificant: Bool
    /// rlnMagMat00…11 for data at the nominal pixel size (k' = M k).
    public var magMatrix: Matrix2x2
    public var motionCor2: MotionCor2Mag
    public var rings: [RingResult]
    public var sectorsUsed: Int
    public var reducedChiSquare: Double
    /// "images" or "tile groups": what the spread uncertainties come from.
    public var spreadSource: String
    public var singleEstimates: [SingleEstimate]
    public var warnings: [String]
    /// SVG plots written beside the JSON result (file names; set by the command that writes them).
    public var plots: [String]?
}

/// Data for the plots: the averaged spectrum and the fit.
public struct RingsFitDetail: Sendable {
    public var spectrum: TileSpectrum
    public var estimate: MagnificationEstimate
    public var rings: [(ring: StandardRing, lo: Double, hi: Double, used: Bool)]
    /// The sectors' ring radii kept by the final fit of the averaged spectrum.
    public var observations: [RingObservation] = []
    /// Wall seconds spent on the power spectra (the rest of the run is the fit).
    public var spectraSeconds: Double = 0
}

public enum RingsCalibration {
    struct RingPlan {
        var index: Int
        var ring: StandardRing
        var expected: Double
        var lo: Double
        var hi: Double
        var note: String?
    }

    /// Runs the calibration on images already read.
    public static func run(images: [RingImage], standard: DiffractionStandard, nominalPixelSize: Double?,
                           options: RingsOptions = RingsOptions(), progress: ProgressHandler? = nil) throws -> (RingsCalibrationResult, RingsFitDetail) {
        guard let first = images.first else { throw RingsError.invalidOption("no image given") }
        guard options.searchBand > 0, options.searchBand <= 0.3 else {
            throw RingsError.invalidOption("--band must be between 0 and 30 (%)")
        }
        guard options.sectorWidth >= 1, options.sectorWidth <= 45,
              abs((180 / options.sectorWidth).rounded() - 180 / options.sectorWidth) < 1e-9 else {
            throw RingsError.invalidOption("--sector must divide 180° (e.g. 3, 5, 10)")
        }
        var warnings: [String] = images.flatMap(\.warnings)
        // Pixel size.
        let p: Double
        if let n = nominalPixelSize {
            guard n > 0, n.isFinite else { throw RingsError.invalidOption("--angpix must be a positive number of Å") }
            p = n
        } else {
            guard first.headerPixelSize > 0, first.headerPixelSize.isFinite else { throw RingsError.noPixelSize(path: first.path) }
            for im in images.dropFirst() where abs(im.headerPixelSize - first.headerPixelSize) > 1e-4 * first.headerPixelSize {
                throw RingsError.pixelSizesDiffer(path: im.path, value: im.headerPixelSize, first: first.path, firstValue: first.headerPixelSize)
            }
            p = first.headerPixelSize
        }
        for im in images.dropFirst() where im.nx != first.nx || im.ny != first.ny {
            throw RingsError.sizeDiffers(path: im.path, nx: im.nx, ny: im.ny, first: first.path, firstNx: first.nx, firstNy: first.ny)
        }
        // Tile size: the requested one, or the largest power of two that fits.
        guard options.tileSize >= 64, options.tileSize % 2 == 0 else { throw RingsError.invalidOption("--tile must be an even number ≥ 64") }
        var t = options.tileSize
        let smallest = min(first.nx, first.ny)
        if smallest < 64 { throw RingsError.imageTooSmall(path: first.path, nx: first.nx, ny: first.ny, minimum: 64) }
        if t > smallest {
            var q = 64
            while q * 2 <= smallest { q *= 2 }
            warnings.append("images of \(first.nx) × \(first.ny) are smaller than \(t)-pixel tiles; using \(q)-pixel tiles")
            t = q
        }
        // Ring plans.
        let b = options.searchBand
        var plans: [RingPlan] = []
        for (i, r) in standard.rings.enumerated() {
            let e = Double(t) * p / r.spacing
            var plan = RingPlan(index: i, ring: r, expected: e, lo: e * (1 - b), hi: e * (1 + b))
            if plan.hi > Double(t) / 2 - 1 {
                plan.note = String(format: "beyond Nyquist: %.4f Å⁻¹ × (1 + %.0f %%) exceeds Nyquist %.4f Å⁻¹ at %.4f Å/px", 1 / r.spacing, b * 100, 0.5 / p, p)
            } else if plan.hi - plan.lo < 6 {
                plan.note = String(format: "too close to the centre: the band is %.1f spectrum pixels wide with %d-pixel tiles (need 6; use larger tiles or images)", plan.hi - plan.lo, t)
            }
            plans.append(plan)
        }
        let usable = plans.filter { $0.note == nil }
        if usable.isEmpty {
            let detail = plans.map { "\($0.ring.label) \(String(format: "%.4f", $0.ring.spacing)) Å \($0.note!)" }.joined(separator: "; ")
            if plans.contains(where: { $0.note!.hasPrefix("too close") }) {
                throw RingsError.imageTooSmall(path: first.path, nx: first.nx, ny: first.ny, minimum: 2 * t)
            }
            throw RingsError.noRingBelowNyquist(standard: standard.name, detail: detail)
        }
        // Spectra.
        var perImage: [TileSpectrum] = []
        var groups: [TileSpectrum] = []
        var tiles = 0
        let spectraStart = DispatchTime.now().uptimeNanoseconds
        for (i, im) in images.enumerated() {
            let s = try PowerSpectra.spectrum(of: im, tileSize: t, groups: images.count == 1 ? options.groupsForSingleImage : 1)
            perImage.append(s.all)
            groups = s.groups
            tiles += s.all.tiles
            progress?(i + 1, images.count)
        }
        let mean = TileSpectrum.mean(perImage)
        let spectraSeconds = Double(DispatchTime.now().uptimeNanoseconds - spectraStart) / 1e9
        let nSectors = Int((180 / options.sectorWidth).rounded())

        // Global search per ring.
        var ringResults: [RingResult] = []
        var found: [(RingPlan, PeakFit)] = []
        for plan in plans {
            var rr = RingResult(label: plan.ring.label, spacing: plan.ring.spacing, used: false, note: plan.note,
                                searchedFrequency: [plan.lo / (Double(t) * p), plan.hi / (Double(t) * p)],
                                searchedPixelSize: [p * plan.lo / plan.expected, p * plan.hi / plan.expected],
                                significance: nil, sectorsUsed: 0, sectors: nSectors)
            if plan.note == nil {
                let prof = profiles(mean, lo: plan.lo, hi: plan.hi, sectors: 1, sectorWidth: 180)[0]
                let widths = [0.0015, 0.003, 0.006, 0.012, 0.02].map { max(0.5, $0 * plan.expected) }
                if let f = PeakFitter.search(prof, lo: plan.lo, hi: plan.hi, widths: widths) {
                    rr.significance = f.significance
                    let inside = f.radius > plan.lo + 0.25 * f.width && f.radius < plan.hi - 0.25 * f.width
                    if f.amplitude > 0 && f.significance >= 8 && inside && f.width < (plan.hi - plan.lo) / 3 {
                        found.append((plan, f))
                        let offset = (f.radius / plan.expected - 1) * 100
                        if abs(offset) > 0.6 * b * 100 {
                            warnings.append(String(format: "ring %@ %.4f Å of %@ found %+.1f %% from the radius the nominal pixel size %.4f Å predicts: the nominal pixel size is that far off, or the images are not of %@ (another lattice's ring near the edge of the band)",
                                                   plan.ring.label, plan.ring.spacing, standard.name, offset, p, standard.name))
                        }
                    } else {
                        rr.note = String(format: "no peak: best candidate at %.4f Å⁻¹ with significance %.1f", f.radius / (Double(t) * p), f.significance)
                    }
                } else {
                    rr.note = "no peak in the band"
                }
            }
            ringResults.append(rr)
        }
        if found.isEmpty {
            let detail = zip(plans, ringResults).map { plan, rr in
                String(format: "%@ %.4f Å: searched %.4f–%.4f Å⁻¹ (pixel size %.4f–%.4f Å): %@", plan.ring.label, plan.ring.spacing,
                       rr.searchedFrequency[0], rr.searchedFrequency[1], rr.searchedPixelSize[0], rr.searchedPixelSize[1], rr.note ?? "")
            }.joined(separator: "; ")
            throw RingsError.noRingFound(standard: standard.name, detail: detail)
        }

        // Sector fits and G, twice (the second with windows centred on G's prediction).
        func sectorObservations(_ spec: TileSpectrum, _ estimate: MagnificationEstimate?) -> [RingObservation] {
            var obs: [RingObservation] = []
            for (plan, global) in found {
                let profs = profiles(spec, lo: plan.lo, hi: plan.hi, sectors: nSectors, sectorWidth: options.sectorWidth)
                for s in 0..<nSectors {
                    let angle = (Double(s) + 0.5) * options.sectorWidth
                    let start = estimate?.predictedRadius(spacing: plan.ring.spacing, angle: angle, tileSize: t) ?? global.radius
                    let w = global.width
                    // A window of ±max(4σ, 1.5 % of the radius) around the start, inside the band.
                    let half = max(4 * w, 0.015 * start)
                    let lo = max(plan.lo, start - half), hi = min(plan.hi, start + half)
                    let prof = window(profs[s], lo: lo, hi: hi)
                    guard prof.radius.count >= 10,
                          let lin = PeakFitter.linear(prof, r0: start, s: w, centre: (lo + hi) / 2, scale: (hi - lo) / 2),
                          let f = PeakFitter.refine(prof, start: lin.0, centre: (lo + hi) / 2, scale: (hi - lo) / 2) else { continue }
                    guard f.amplitude > 0, f.significance >= 3, abs(f.radius - start) < max(2 * w, 0.01 * start),
                          f.width > 0.25 * w, f.width < 4 * w, f.radiusError > 0, f.radiusError < w else { continue }
                    obs.append(RingObservation(ring: plan.index, angle: angle, radius: f.radius, radiusError: f.radiusError, spacing: plan.ring.spacing))
                }
            }
            return obs
        }
        func estimate(_ spec: TileSpectrum, start: MagnificationEstimate?) -> (MagnificationEstimate, [RingObservation], Double)? {
            var e = start
            var last: (MagnificationEstimate, [RingObservation], Double)? = nil
            for _ in 0..<(start == nil ? 2 : 1) {
                let obs = sectorObservations(spec, e)
                guard let f = MagnificationFitter.fit(obs, tileSize: t, nominalPixelSize: p) else { return last }
                last = f; e = f.0
            }
            return last
        }
        guard let (est, kept, red) = estimate(mean, start: nil) else {
            throw RingsError.fitFailed("too few sectors with a measurable ring (\(found.map { $0.0.ring.label }.joined(separator: ", ")) found in the average over all directions)")
        }

        // Rings on their own.
        for (plan, global) in found {
            var rr = ringResults[plan.index]
            rr.used = true
            rr.note = nil
            rr.peakWidthPixels = global.width
            let mine = kept.filter { $0.ring == plan.index }
            rr.sectorsUsed = mine.count
            if mine.count >= 4, let f = MagnificationFitter.fit(mine, tileSize: t, nominalPixelSize: p) {
                let v = f.0.values, e = f.0.errors
                rr.pixelSize = Measured(value: v[0], fitError: e[0])
                rr.anisotropyPercent = Measured(value: v[4], fitError: e[4])
                let meanFreq = p / (v[0] * plan.ring.spacing)
                rr.meanFrequency = meanFreq
                rr.meanRadiusPixels = meanFreq * Double(t) * p
            } else {
                rr.note = "too few sectors for a fit of this ring alone"
            }
            ringResults[plan.index] = rr
        }
        for i in ringResults.indices where !ringResults[i].used && ringResults[i].note == nil {
            ringResults[i].note = "not found"
        }

        // Spread between images (or tile groups).
        let sources: [(String, TileSpectrum)] = images.count > 1
            ? zip(images.map(\.path), perImage).map { ($0, $1) }
            : groups.enumerated().map { ("tile group \($0.offset + 1)", $0.element) }
        var singles: [SingleEstimate] = []
        var singleValues: [[Double]] = []
        for (name, spec) in sources {
            if let f = estimate(spec, start: est) {
                let v = f.0.values
                singles.append(SingleEstimate(source: name, pixelSize: v[0], anisotropyPercent: v[4], majorAxisAngle: v[3], sectorsUsed: f.1.count))
                singleValues.append(v)
            } else {
                warnings.append("\(name): no ring fit on its own")
            }
        }
        let values = est.values, errors = est.errors
        func measured(_ k: Int) -> Measured {
            var m = Measured(value: values[k], fitError: errors[k])
            if singleValues.count >= 2 {
                let xs = singleValues.map { v -> Double in
                    if k == 3 {
                        var d = v[3] - values[3]
                        while d > 90 { d -= 180 }; while d < -90 { d += 180 }
                        return values[3] + d
                    }
                    return v[k]
                }
                let mu = xs.reduce(0, +) / Double(xs.count)
                let sd = (xs.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(xs.count - 1)).squareRoot()
                m.spreadStd = sd
                m.spreadError = sd / Double(xs.count).squareRoot()
            }
            return m
        }
        let aniso = measured(4)
        let anisoError = max(aniso.fitError, aniso.spreadError ?? 0)
        let significant = aniso.value > 2 * anisoError
        if !significant {
            warnings.append(String(format: "the anisotropy %.3f %% is below twice its uncertainty (%.3f %%): no significant distortion; the angle is meaningless", aniso.value, anisoError))
        }
        let angle = measured(3)
        let mc = MotionCor2Mag(major: values[1], minor: values[2], angle: -values[3], pixelSize: values[0],
                               arguments: String(format: "-Mag %.4f %.4f %.2f -PixSize %.4f", values[1], values[2], -values[3], values[0]))
        let usedRings = ringResults.filter { $0.used }
        if usedRings.count >= 2 {
            let withPixel = usedRings.compactMap { r in r.pixelSize.map { (r.label, $0) } }
            for i in 0..<withPixel.count { for j in (i + 1)..<max(i + 1, withPixel.count) {
                let a = withPixel[i], c = withPixel[j]
                let s = (a.1.fitError * a.1.fitError + c.1.fitError * c.1.fitError).squareRoot()
                if s > 0 && abs(a.1.value - c.1.value) > 4 * s {
                    warnings.append(String(format: "rings %@ and %@ disagree: %.4f and %.4f Å (%.1fσ); a wrong standard or a biased peak", a.0, c.0, a.1.value, c.1.value, abs(a.1.value - c.1.value) / s))
                }
            } }
        }
        let result = RingsCalibrationResult(
            standard: standard.name, images: images.map(\.path), nominalPixelSize: p, tileSize: t, tiles: tiles,
            sectorWidth: options.sectorWidth, searchBand: options.searchBand,
            pixelSize: measured(0), magnificationMinorAxis: measured(7), magnificationMajorAxis: measured(8),
            majorAxisPixelSize: measured(5), minorAxisPixelSize: measured(6), majorScale: measured(1), minorScale: measured(2),
            majorAxisAngle: angle, anisotropyPercent: aniso, anisotropySignificant: significant, magMatrix: est.matrix,
            motionCor2: mc, rings: ringResults, sectorsUsed: kept.count, reducedChiSquare: red,
            spreadSource: images.count > 1 ? "images" : "tile groups", singleEstimates: singles, warnings: warnings)
        let detail = RingsFitDetail(spectrum: mean, estimate: est,
                                    rings: plans.map { plan in (plan.ring, plan.lo, plan.hi, ringResults[plan.index].used) },
                                    observations: kept, spectraSeconds: spectraSeconds)
        return (result, detail)
    }

    /// Radial profiles of r·P(r) in `sectors` sectors of `sectorWidth` degrees over [0°, 180°),
    /// for radii in [lo, hi], in bins of half a pixel. Pixels within 2 of the axes are left out
    /// (detectors and tile edges put lines there).
    static func profiles(_ spec: TileSpectrum, lo: Double, hi: Double, sectors: Int, sectorWidth: Double) -> [RadialProfile] {
        let t = spec.tileSize, h = t / 2 + 1
        let bw = 0.5
        let nb = Int(((hi - lo) / bw).rounded(.up)) + 1
        var sr = [[Double]](repeating: [Double](repeating: 0, count: nb), count: sectors)
        var sv = sr, sc = sr
        let rmax = Int(hi.rounded(.up))
        for j in 0..<t {
            let fy = j <= t / 2 ? j : j - t
            if abs(fy) > rmax || abs(fy) < 2 { continue }
            for i in 2..<min(h, rmax + 1) {
                let r = (Double(i * i + fy * fy)).squareRoot()
                guard r >= lo, r <= hi else { continue }
                var a = atan2(Double(fy), Double(i)) * 180 / Double.pi
                if a < 0 { a += 180 }
                let s = min(sectors - 1, Int(a / sectorWidth))
                let bin = min(nb - 1, Int((r - lo) / bw))
                sr[s][bin] += r; sv[s][bin] += r * spec.values[j * h + i]; sc[s][bin] += 1
            }
        }
        return (0..<sectors).map { s in
            RadialProfile(radius: (0..<nb).map { sc[s][$0] > 0 ? sr[s][$0] / sc[s][$0] : 0 },
                          value: (0..<nb).map { sc[s][$0] > 0 ? sv[s][$0] / sc[s][$0] : 0 },
                          count: sc[s]).nonEmpty
        }
    }

    static func window(_ p: RadialProfile, lo: Double, hi: Double) -> RadialProfile {
        let keep = p.radius.indices.filter { p.radius[$0] >= lo && p.radius[$0] <= hi }
        return RadialProfile(radius: keep.map { p.radius[$0] }, value: keep.map { p.value[$0] }, count: keep.map { p.count[$0] })
    }
}
