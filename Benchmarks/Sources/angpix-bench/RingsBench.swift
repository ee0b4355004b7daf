// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix-bench rings`: `calibrate rings` end to end (read the MRC files, tile spectra, fit) on 20
// SIMULATED gold micrographs of 4096² (AngpixSimulation: crystallites of the real fcc lattice,
// CTF, counting noise; 1 % anisotropy at 30°, true pixel size 0.85 Å, header 0.85 Å), generated
// once into ./bench-data/rings/ (never committed): 10 distinct images by default (`--distinct`),
// the timed list of 20 cycling through them. Also: the accuracy on the 10 distinct images, and
// on 10 images without distortion.
//
// The anchor: a brute-force search over the stretch's angle and amount, in the manner of Grant &
// Grigorieff's mag_distortion_estimate (which searches these two parameters exhaustively on the
// averaged spectrum of ~20 gold images), written here because that program is not installed on
// this machine. It is NOT part of angpix. For every candidate — an area-preserving stretch by a
// ratio a ≥ 1 along an angle θ — every spectrum pixel of the gold bands is moved to its corrected
// radius and binned (quarter-pixel bins) into a rotational average, and the candidate is scored
// by how sharp the rings become (the variance of the profile over each band); the best
// candidate's rotational average then gives the mean pixel size from the peak of each ring
// (a parabola through the highest bins). Grid: θ every 0.5° over [0°, 180°), a from 1 to 1.03
// every 0.0002. It runs on the same averaged spectrum as angpix (its time adds to the same
// reading and spectra), in parallel over angles.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC
import AngpixOptics
import AngpixRings
import AngpixSimulation

struct RingsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rings",
        abstract: "Times calibrate rings on 20 simulated 4096² gold images against a brute-force scale × angle search.",
        discussion: "Example: swift run --package-path Benchmarks -c release angpix-bench rings"
    )

    @Option(help: "Images timed end to end.") var images = 20
    @Option(help: "Image size (pixels).") var size = 4096
    @Option(help: "Images for the accuracy runs (with and without distortion).") var accuracyImages = 10
    @Option(help: "Distinct images simulated for the timed list (it cycles through them).") var distinct = 10
    @Option(help: "Folder for the generated images.") var data = "bench-data/rings"
    @Flag(help: "Skip the brute-force anchor.") var noAnchor = false
    @Flag(help: "Skip the accuracy run on images without distortion (saves generating them).") var noFlat = false

    static let truePixelSize = 0.85
    static let lowMagnification = 0.995, highMagnification = 1.005, axisAngle = 30.0

    /// D = R diag(low, high) Rᵀ: magnification `low` along the axis at `angle` (the major axis).
    static func distortion(low: Double, high: Double, angle: Double) -> Matrix2x2 {
        let a = angle * Double.pi / 180
        let c = cos(a), s = sin(a)
        return Matrix2x2(low * c * c + high * s * s, (low - high) * c * s, (low - high) * c * s, low * s * s + high * c * c)
    }

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Process CPU seconds (all threads): with other work on the machine, wall time overstates
    /// what a run costs; CPU / 2 is its wall time on the 2 cores alone.
    func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The machine's 1-minute load average.
    func load() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8), let first = text.split(separator: " ").first else { return .nan }
        return Double(first) ?? .nan
    }

    /// Generates (once) `count` images named PREFIX01.mrc… and returns their paths.
    func generate(prefix: String, count: Int, distortion d: Matrix2x2, seed: UInt64) throws -> [String] {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        var sim = CrystalliteImageSimulator(size: size, truePixelSize: Self.truePixelSize, distortion: d)
        sim.defocusRange = 10000...20000
        var paths: [String] = []
        for i in 0..<count {
            let path = (data as NSString).appendingPathComponent(String(format: "%@%02d-%d.mrc", prefix, i + 1, size))
            paths.append(path)
            if FileManager.default.fileExists(atPath: path) { continue }
            var image: [Float] = []
            let s = try seconds { image = try sim.simulate(seed: seed &+ UInt64(i)) }
            try MRCFile.write(MRCMap(nx: size, ny: size, nz: 1, pixelSize: Self.truePixelSize, data: image), to: path,
                              policy: OutputPolicy(overwrite: true))
            print(String(format: "  generated %@ (%.1f s)", (path as NSString).lastPathComponent, s))
        }
        return paths
    }

    func run() throws {
        let d = Self.distortion(low: Self.lowMagnification, high: Self.highMagnification, angle: Self.axisAngle)
        let truth = Self.truePixelSize / d.determinant.squareRoot()
        let anisoTruth = (Self.highMagnification / Self.lowMagnification - 1) * 100
        print("SIMULATED gold, \(images) × \(size)², true pixel size \(Self.truePixelSize) Å (mean \(String(format: "%.5f", truth))), anisotropy \(String(format: "%.4f", anisoTruth)) % at \(Self.axisAngle)°; \(Parallelism.jobs) threads")
        // `distinct` images are simulated (the slow part: a 8192² rendering each); the timed list
        // cycles through them when it is longer, so each file is then read twice.
        let generated = try generate(prefix: "gold", count: min(max(distinct, accuracyImages), images), distortion: d, seed: 1000)
        let paths = (0..<images).map { generated[$0 % generated.count] }
        if generated.count < images {
            print("  (\(generated.count) distinct images, the list of \(images) cycles through them)")
        }

        // angpix end to end: read, spectra, fit.
        var read: [RingImage] = []
        var result: RingsCalibrationResult?
        var detail: RingsFitDetail?
        let cpu0 = cpuSeconds(), load0 = load()
        let readTime = try seconds { read = try paths.prefix(images).map { try RingImageReader.read($0) } }
        let fitTime = try seconds {
            (result, detail) = try RingsCalibration.run(images: read, standard: .gold, nominalPixelSize: nil)
        }
        let total = readTime + fitTime
        let cpu = cpuSeconds() - cpu0
        guard let r = result, let detail else { return }
        print(String(format: "angpix calibrate rings, %d × %d²: %.2f s (read %.2f s, spectra %.2f s, fit %.2f s; target ≤ 20 s)",
                     images, size, total, readTime, detail.spectraSeconds, fitTime - detail.spectraSeconds))
        print(String(format: "  CPU %.2f s on %d threads (CPU / 2 = %.2f s); load average %.1f before, %.1f after",
                     cpu, Parallelism.jobs, cpu / 2, load0, load()))
        print(String(format: "  -> pixel size %.5f ± %.5f Å (error %+.4f %%), anisotropy %.4f ± %.4f %% (truth %.4f), angle %.2f° (truth %.0f°)",
                     r.pixelSize.value, max(r.pixelSize.fitError, r.pixelSize.spreadError ?? 0), (r.pixelSize.value / truth - 1) * 100,
                     r.anisotropyPercent.value, max(r.anisotropyPercent.fitError, r.anisotropyPercent.spreadError ?? 0), anisoTruth,
                     r.majorAxisAngle.value, Self.axisAngle))
        for ring in r.rings where ring.used {
            print(String(format: "     ring %@: %.5f Å (error %+.4f %%)", ring.label, ring.pixelSize?.value ?? 0, ((ring.pixelSize?.value ?? 0) / truth - 1) * 100))
        }

        // The anchor on the same averaged spectrum.
        if !noAnchor {
            var best: (pixelSize: Double, anisotropy: Double, angle: Double, candidates: Int) = (0, 0, 0, 0)
            let searchCPU0 = cpuSeconds()
            let searchTime = seconds {
                best = BruteForceMagSearch.search(spectrum: detail.spectrum, nominalPixelSize: r.nominalPixelSize,
                                                  spacings: DiffractionStandard.gold.rings.prefix(2).map(\.spacing))
            }
            let spectra = detail.spectraSeconds, fitAlone = max(fitTime - spectra, 1e-3)
            let anchorTotal = readTime + spectra + searchTime
            let searchCPU = cpuSeconds() - searchCPU0
            print(String(format: "brute-force scale × angle search (%d candidates) on the same spectrum: %.2f s (CPU %.2f s); read + spectra + search %.2f s",
                         best.candidates, searchTime, searchCPU, anchorTotal))
            print(String(format: "  -> pixel size %.5f Å (error %+.4f %%), anisotropy %.4f %% (truth %.4f), angle %.2f°",
                         best.pixelSize, (best.pixelSize / truth - 1) * 100, best.anisotropy, anisoTruth, best.angle))
            print(String(format: "ratios: end to end %.2f× faster; the fit alone vs the search: %.0f× faster",
                         anchorTotal / total, searchTime / fitAlone))
            print(String(format: "        |error| pixel size angpix %.4f %% vs search %.4f %%; anisotropy %.4f vs %.4f points; angle %.2f° vs %.2f°",
                         abs(r.pixelSize.value / truth - 1) * 100, abs(best.pixelSize / truth - 1) * 100,
                         abs(r.anisotropyPercent.value - anisoTruth), abs(best.anisotropy - anisoTruth),
                         abs(angleDifference(r.majorAxisAngle.value, Self.axisAngle)), abs(angleDifference(best.angle, Self.axisAngle))))
        }
        read = []

        // Accuracy on the issue's 10 images.
        if accuracyImages > 0 && accuracyImages <= generated.count && accuracyImages != images {
            let ten = try generated.prefix(accuracyImages).map { try RingImageReader.read($0) }
            let (a, _) = try RingsCalibration.run(images: ten, standard: .gold, nominalPixelSize: nil)
            report("distorted, first \(accuracyImages)", a, truth: truth, anisotropy: anisoTruth, angle: Self.axisAngle)
        }
        if !noFlat && accuracyImages > 0 {
            let flatPaths = try generate(prefix: "flat", count: accuracyImages, distortion: .identity, seed: 5000)
            let flat = try flatPaths.map { try RingImageReader.read($0) }
            let (a, _) = try RingsCalibration.run(images: flat, standard: .gold, nominalPixelSize: nil)
            report("no distortion, \(accuracyImages)", a, truth: Self.truePixelSize, anisotropy: 0, angle: nil)
        }
    }

    func report(_ name: String, _ r: RingsCalibrationResult, truth: Double, anisotropy: Double, angle: Double?) {
        var line = String(format: "accuracy (%@ × %d²): pixel size %.5f Å (error %+.4f %%), anisotropy %.4f %% ± %.4f (truth %.4f)",
                          name, size, r.pixelSize.value, (r.pixelSize.value / truth - 1) * 100, r.anisotropyPercent.value,
                          max(r.anisotropyPercent.fitError, r.anisotropyPercent.spreadError ?? 0), anisotropy)
        if let angle { line += String(format: ", angle %.2f° (truth %.0f°)", r.majorAxisAngle.value, angle) }
        let rings = r.rings.filter(\.used).map { String(format: "%@ %.5f Å", $0.label, $0.pixelSize?.value ?? 0) }
        line += "; rings: " + rings.joined(separator: ", ")
        print(line)
    }

    func angleDifference(_ a: Double, _ b: Double) -> Double {
        var d = a - b
        while d > 90 { d -= 180 }
        while d < -90 { d += 180 }
        return d
    }
}

/// The anchor: an exhaustive search over an area-preserving stretch (ratio, angle) of the
/// spectrum that makes the rings sharpest (see the file header). Benchmark only.
enum BruteForceMagSearch {
    static func search(spectrum s: TileSpectrum, nominalPixelSize p: Double, spacings: [Double],
                       band: Double = 0.05, angleStep: Double = 0.5, ratioStep: Double = 0.0002, maxRatio: Double = 1.03)
        -> (pixelSize: Double, anisotropy: Double, angle: Double, candidates: Int) {
        let t = s.tileSize, h = t / 2 + 1
        // The pixels of the bands (half plane, away from the axes), with their coordinates.
        struct Pixel { var x: Double; var y: Double; var v: Double }
        var bands: [(lo: Double, hi: Double, pixels: [Pixel])] = []
        for d in spacings {
            let r0 = Double(t) * p / d
            let lo = r0 * (1 - band), hi = r0 * (1 + band)
            guard hi < Double(t) / 2 - 1 else { continue }
            var px: [Pixel] = []
            for j in 0..<t {
                let fy = j <= t / 2 ? j : j - t
                if abs(fy) < 2 { continue }
                for i in 2..<h {
                    let r = Double(i * i + fy * fy).squareRoot()
                    // A margin so that stretched pixels still fill the band.
                    if r >= lo / maxRatio * 0.99 && r <= hi * maxRatio * 1.01 {
                        px.append(Pixel(x: Double(i), y: Double(fy), v: s.values[j * h + i]))
                    }
                }
            }
            bands.append((lo, hi, px))
        }
        let binWidth = 0.25
        let nAngles = Int((180 / angleStep).rounded())
        let nRatios = Int(((maxRatio - 1) / ratioStep).rounded()) + 1

        /// The rotational averages of every band under the stretch (ratio a along angle θ).
        func profiles(_ a: Double, _ theta: Double) -> [[Double]] {
            let c = cos(theta * Double.pi / 180), sn = sin(theta * Double.pi / 180)
            // Shrink by 1/√a along θ, expand by √a across: the long axis of the ellipse becomes round.
            let along = 1 / a.squareRoot(), across = a.squareRoot()
            return bands.map { b in
                let nb = Int(((b.hi - b.lo) / binWidth).rounded(.up))
                var sum = [Double](repeating: 0, count: nb), n = sum
                for q in b.pixels {
                    let u = q.x * c + q.y * sn, w = -q.x * sn + q.y * c
                    let r = ((u * along) * (u * along) + (w * across) * (w * across)).squareRoot()
                    let k = Int((r - b.lo) / binWidth)
                    if k >= 0 && k < nb { sum[k] += q.v; n[k] += 1 }
                }
                return (0..<nb).map { n[$0] > 0 ? sum[$0] / n[$0] : 0 }
            }
        }
        func score(_ profs: [[Double]]) -> Double {
            profs.reduce(0) { acc, p in
                let m = p.reduce(0, +) / Double(p.count)
                return acc + p.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (m * m * Double(p.count))
            }
        }
        var bestPerAngle = [(Double, Double)](repeating: (-1, 1), count: nAngles)
        bestPerAngle.withUnsafeMutableBufferPointer { buf in
            nonisolated(unsafe) let out = buf
            parallelForEach(nAngles) { ai in
                let theta = Double(ai) * angleStep
                var best = (-1.0, 1.0)
                for ri in 0..<nRatios {
                    let a = 1 + Double(ri) * ratioStep
                    let sc = score(profiles(a, theta))
                    if sc > best.0 { best = (sc, a) }
                }
                out[ai] = best
            }
        }
        var bi = 0
        for i in bestPerAngle.indices where bestPerAngle[i].0 > bestPerAngle[bi].0 { bi = i }
        let a = bestPerAngle[bi].1, theta = Double(bi) * angleStep
        // Pixel size from each ring's peak in the corrected rotational average.
        let profs = profiles(a, theta)
        var pixelSizes: [Double] = []
        for (k, prof) in profs.enumerated() {
            guard let top = prof.indices.max(by: { prof[$0] < prof[$1] }), top > 0, top < prof.count - 1 else { continue }
            let y0 = prof[top - 1], y1 = prof[top], y2 = prof[top + 1]
            let denom = y0 - 2 * y1 + y2
            let offset = denom != 0 ? 0.5 * (y0 - y2) / denom : 0
            let r = bands[k].lo + (Double(top) + 0.5 + offset) * binWidth
            pixelSizes.append(r * spacings[k] / Double(t))
        }
        let pixel = pixelSizes.isEmpty ? 0 : pixelSizes.reduce(0, +) / Double(pixelSizes.count)
        var angle = theta
        if angle > 90 { angle -= 180 }
        return (pixel, (a - 1) * 100, angle, nAngles * nRatios)
    }
}
