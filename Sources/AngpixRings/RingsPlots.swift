// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The pictures of a ring calibration, as self-contained SVG (no embedded bitmaps: the spectrum is
// drawn as a raster of grey rectangles at reduced resolution, neighbouring cells of the same grey
// merged into one rectangle, so a report stays a few hundred kB):
//   - the averaged power spectrum around the rings, each value divided by a smooth rotational
//     background (the rotational mean in 1-pixel bins, averaged over ±6 bins) and clipped at its
//     1st and 99.5th percentiles, with every fitted ring ellipse drawn on it; beside it, each used
//     ring unrolled (angle across in 3° steps, radius up in about 1-pixel steps), where a 1 %
//     ellipse becomes a visible sine wave,
//     with the fitted radius and the sectors' measured radii on it;
//   - per used ring, the radial profile across the ring (mean power in bins of a quarter spectrum
//     pixel, divided by its mean) before correcting the distortion (the observed radius at the
//     calibrated mean pixel size: only the isotropic scale applied) and after (the true frequency
//     |M k| with the fitted matrix), against spatial frequency, with the ring's 1/d marked.

import Foundation
import AngpixReport

/// SVG pictures of a ring calibration (see the file header).
public enum RingsPlots {
    /// The spectrum values around the origin divided by a smooth rotational background, for
    /// radii up to `radius` (spectrum pixels); index (j, i) as in the half-complex layout.
    static func flattened(_ spec: TileSpectrum, radius: Double) -> (value: (Int, Int) -> Double?, low: Double, high: Double) {
        let t = spec.tileSize, h = t / 2 + 1
        let nb = Int(radius) + 8
        var sum = [Double](repeating: 0, count: nb), n = sum
        for j in 0..<t {
            let fy = j <= t / 2 ? j : j - t
            if Double(abs(fy)) > radius + 6 { continue }
            for i in 0..<min(h, nb) {
                let r = Int(Double(i * i + fy * fy).squareRoot())
                if r < nb { sum[r] += spec.values[j * h + i]; n[r] += 1 }
            }
        }
        let mean = (0..<nb).map { n[$0] > 0 ? sum[$0] / n[$0] : 0 }
        let bg = (0..<nb).map { r -> Double in
            let lo = max(0, r - 6), hi = min(nb - 1, r + 6)
            let v = (lo...hi).map { mean[$0] }.filter { $0 > 0 }
            return v.isEmpty ? 1 : v.reduce(0, +) / Double(v.count)
        }
        let value: (Int, Int) -> Double? = { fy, fx in
            // Centrosymmetric: (fx, fy) and (−fx, −fy) hold the same power.
            var x = fx, y = fy
            if x < 0 { x = -x; y = -y }
            guard x < h, abs(y) <= t / 2 - 1 else { return nil }
            let r = Double(x * x + y * y).squareRoot()
            guard r <= radius, x >= 2 || abs(y) >= 2 else { return nil }
            let j = y >= 0 ? y : y + t
            let b = bg[min(nb - 1, Int(r))]
            return b > 0 ? spec.values[j * h + x] / b : nil
        }
        // Percentiles over the annulus that holds the rings (half plane).
        var sample: [Double] = []
        let lo = Int(radius * 0.5)
        for fy in stride(from: -Int(radius), through: Int(radius), by: 2) {
            for fx in stride(from: 0, through: Int(radius), by: 2) where fx * fx + fy * fy >= lo * lo {
                if let v = value(fy, fx) { sample.append(v) }
            }
        }
        sample.sort()
        let low = sample.isEmpty ? 0 : sample[Int(Double(sample.count - 1) * 0.01)]
        let high = sample.isEmpty ? 1 : sample[Int(Double(sample.count - 1) * 0.995)]
        return (value, low, max(high, low + 1e-12))
    }

    /// Rectangles of a grey raster: `cells` rows of values in [0, 1] (nil: not drawn), drawn at
    /// (x0, y0) with cells of `cw` × `ch`; 16 grey levels, runs of equal grey merged.
    static func raster(_ cells: [[Double?]], x0: Double, y0: Double, cw: Double, ch: Double) -> String {
        var out = ""
        let hex = Array("0123456789abcdef")
        for (row, values) in cells.enumerated() {
            var i = 0
            while i < values.count {
                guard let v = values[i] else { i += 1; continue }
                let level = min(15, max(0, Int(v * 16)))
                var k = i + 1
                while k < values.count, let w = values[k], min(15, max(0, Int(w * 16))) == level { k += 1 }
                let c = hex[level]
                out += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%@%@%@\"/>",
                              x0 + Double(i) * cw, y0 + Double(row) * ch, Double(k - i) * cw + 0.3, ch + 0.3,
                              String(c), String(c), String(c))
                i = k
            }
            out += "\n"
        }
        return out
    }

    /// The spectrum with the fitted ellipses, and the unrolled rings (see the file header).
    public static func spectrumSVG(_ detail: RingsFitDetail, result r: RingsCalibrationResult) -> String {
        let spec = detail.spectrum
        let t = spec.tileSize
        let used = detail.rings.enumerated().filter { $0.element.used }
        let outer = used.map { $0.element.hi }.max() ?? Double(t) / 4
        let radius = min(Double(t) / 2 - 2, outer * 1.06)
        let (value, low, high) = flattened(spec, radius: radius)
        func grey(_ v: Double?) -> Double? { v.map { min(1, max(0, ($0 - low) / (high - low))) } }
        let est = detail.estimate
        // Left: the square around the origin, at most 160 cells across.
        let size = 360.0, left = 20.0, top = 52.0
        let step = max(1, Int((2 * radius / 160).rounded(.up)))
        let cellsAcross = Int((2 * radius) / Double(step)) + 1
        let half = Double(cellsAcross * step) / 2
        var cells: [[Double?]] = []
        for row in 0..<cellsAcross {
            // Rows from the top: +y (spectrum) up.
            let y0 = Int(half) - row * step
            var line: [Double?] = []
            for col in 0..<cellsAcross {
                let x0 = -Int(half) + col * step
                var s = 0.0, n = 0.0
                for dy in 0..<step { for dx in 0..<step {
                    if let v = value(y0 - dy, x0 + dx) { s += v; n += 1 }
                } }
                line.append(n > 0 ? grey(s / n) : nil)
            }
            cells.append(line)
        }
        let cw = size / Double(cellsAcross)
        let scale = size / (Double(cellsAcross * step))   // SVG units per spectrum pixel
        let cx = left + size / 2, cy = top + size / 2
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"460\" viewBox=\"0 0 760 460\" font-family=\"sans-serif\" font-size=\"12\">\n"
        let title = String(format: "Averaged power spectrum (%d images, %d tiles of %d px) with the fitted ellipses", r.images.count, r.tiles, t)
        svg += "<title>\(escapeXML(title))</title>\n<rect width=\"760\" height=\"460\" fill=\"white\"/>\n"
        svg += "<text x=\"20\" y=\"22\" font-size=\"14\">\(escapeXML(title))</text>\n"
        svg += String(format: "<text x=\"20\" y=\"40\" fill=\"#444\">pixel size %.4f Å, anisotropy %.3f %% at %.1f°; power ÷ rotational background, grey 1st–99.5th percentile</text>\n",
                      r.pixelSize.value, r.anisotropyPercent.value, r.majorAxisAngle.value)
        svg += raster(cells, x0: left, y0: top, cw: cw, ch: cw)
        for (_, ring) in used {
            var pts: [String] = []
            for k in 0...120 {
                let a = Double(k) * 3
                let rad = est.predictedRadius(spacing: ring.ring.spacing, angle: a, tileSize: t)
                let x = cx + rad * cos(a * Double.pi / 180) * scale, y = cy - rad * sin(a * Double.pi / 180) * scale
                pts.append(String(format: "%.1f,%.1f", x, y))
            }
            svg += "<polyline points=\"\(pts.joined(separator: " "))\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"0.8\" stroke-dasharray=\"4 3\"/>\n"
        }
        // The major axis.
        let axis = r.majorAxisAngle.value * Double.pi / 180
        svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1f77b4\" stroke-width=\"1\"/>\n",
                      cx - cos(axis) * size / 2, cy + sin(axis) * size / 2, cx + cos(axis) * size / 2, cy - sin(axis) * size / 2)
        svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#444\">kx →, ky ↑ (image x, y); blue: major axis; red: fitted rings</text>\n", left, top + size + 18)

        // Right: each used ring unrolled.
        let rx = 420.0, rw = 320.0
        let stripHeight = min(170.0, (size - Double(max(0, used.count - 1)) * 24) / Double(max(1, used.count)))
        for (k, (index, ring)) in used.enumerated() {
            let y0 = top + Double(k) * (stripHeight + 24)
            let lo = ring.lo, hi = ring.hi
            // Cells of 3° by about one spectrum pixel (so that every cell holds pixels), on black.
            let nAngle = 60, nRadius = max(8, min(40, Int((hi - lo).rounded())))
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#000\"/>\n", rx, y0, rw, stripHeight)
            var sums = [[Double]](repeating: [Double](repeating: 0, count: nAngle), count: nRadius), counts = sums
            for fy in -Int(hi.rounded(.up))...Int(hi.rounded(.up)) {
                for fx in 0...Int(hi.rounded(.up)) {
                    let rr = Double(fx * fx + fy * fy).squareRoot()
                    guard rr >= lo, rr < hi, let v = value(fy, fx) else { continue }
                    var a = atan2(Double(fy), Double(fx)) * 180 / Double.pi
                    if a < 0 { a += 180 }
                    let ai = min(nAngle - 1, Int(a / 180 * Double(nAngle)))
                    let ri = min(nRadius - 1, Int((rr - lo) / (hi - lo) * Double(nRadius)))
                    sums[ri][ai] += v; counts[ri][ai] += 1
                }
            }
            // Each angle column divided by its mean (the CTF changes the ring's strength with angle).
            var strip = [[Double?]](repeating: [Double?](repeating: nil, count: nAngle), count: nRadius)
            var vals: [Double] = []
            for ai in 0..<nAngle {
                let col = (0..<nRadius).compactMap { counts[$0][ai] > 0 ? sums[$0][ai] / counts[$0][ai] : nil }
                let m = col.isEmpty ? 1 : col.reduce(0, +) / Double(col.count)
                for ri in 0..<nRadius where counts[ri][ai] > 0 {
                    let v = sums[ri][ai] / counts[ri][ai] / m
                    strip[nRadius - 1 - ri][ai] = v; vals.append(v)
                }
            }
            vals.sort()
            let slo = vals.isEmpty ? 0 : vals[Int(Double(vals.count - 1) * 0.02)]
            let shi = vals.isEmpty ? 1 : vals[Int(Double(vals.count - 1) * 0.995)]
            let scaled = strip.map { row in row.map { $0.map { min(1, max(0, ($0 - slo) / max(1e-12, shi - slo))) } } }
            svg += raster(scaled, x0: rx, y0: y0, cw: rw / Double(nAngle), ch: stripHeight / Double(nRadius))
            func yOf(_ rad: Double) -> Double { y0 + stripHeight * (1 - (rad - lo) / (hi - lo)) }
            var pts: [String] = []
            for a in stride(from: 0.0, through: 180.0, by: 2) {
                let rad = est.predictedRadius(spacing: ring.ring.spacing, angle: a, tileSize: t)
                pts.append(String(format: "%.1f,%.1f", rx + a / 180 * rw, yOf(rad)))
            }
            svg += "<polyline points=\"\(pts.joined(separator: " "))\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1\"/>\n"
            for o in detail.observations where o.ring == index {
                svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"#1f77b4\"/>", rx + o.angle / 180 * rw, yOf(o.radius))
            }
            svg += "\n"
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#444\">%@ %.4f Å: radius %.1f–%.1f px (up) against angle 0–180° (across)</text>\n",
                          rx, y0 + stripHeight + 14, escapeXML(ring.ring.label), ring.ring.spacing, lo, hi)
        }
        if used.isEmpty { svg += "<text x=\"420\" y=\"80\">no ring used</text>\n" }
        svg += "</svg>\n"
        return svg
    }

    /// The radial profile across ring `index` before (observed radius at the calibrated mean pixel
    /// size) and after correcting the distortion (|M k|): (frequency in 1/Å, power ÷ its mean).
    public static func profiles(_ detail: RingsFitDetail, result r: RingsCalibrationResult, ring index: Int)
        -> (before: [(Double, Double)], after: [(Double, Double)]) {
        let spec = detail.spectrum
        let t = spec.tileSize, h = t / 2 + 1
        let ring = detail.rings[index]
        let p = r.nominalPixelSize, mean = r.pixelSize.value
        let m = detail.estimate.matrix
        let target = 1 / ring.ring.spacing
        // Bins of a quarter spectrum pixel, over ±(band / 2) around 1/d.
        let bw = 0.25 / (Double(t) * mean)
        let halfWidth = (ring.hi - ring.lo) / 2 / (Double(t) * p) * 0.8
        let nb = Int((2 * halfWidth / bw).rounded(.up))
        let start = target - halfWidth
        var sb = [Double](repeating: 0, count: nb), nbf = sb, sa = sb, na = sb
        for j in 0..<t {
            let fy = j <= t / 2 ? j : j - t
            if abs(fy) < 2 || Double(abs(fy)) > ring.hi * 1.1 { continue }
            for i in 2..<h {
                let rr = Double(i * i + fy * fy).squareRoot()
                guard rr >= ring.lo * 0.95, rr <= ring.hi * 1.05 else { continue }
                let v = spec.values[j * h + i]
                let kb = rr / (Double(t) * mean)
                let kx = Double(i) / (Double(t) * p), ky = Double(fy) / (Double(t) * p)
                let qx = m.m00 * kx + m.m01 * ky, qy = m.m10 * kx + m.m11 * ky
                let ka = (qx * qx + qy * qy).squareRoot()
                let b = Int((kb - start) / bw), a = Int((ka - start) / bw)
                if b >= 0 && b < nb { sb[b] += v; nbf[b] += 1 }
                if a >= 0 && a < nb { sa[a] += v; na[a] += 1 }
            }
        }
        func series(_ s: [Double], _ n: [Double]) -> [(Double, Double)] {
            var pts: [(Double, Double)] = []
            var total = 0.0
            for k in 0..<nb where n[k] > 0 {
                let x: Double = start + (Double(k) + 0.5) * bw
                let y: Double = s[k] / n[k]
                pts.append((x, y)); total += y
            }
            let mu: Double = pts.isEmpty ? 1 : total / Double(pts.count)
            return pts.map { ($0.0, $0.1 / mu) }
        }
        return (series(sb, nbf), series(sa, na))
    }

    /// The profile plot of ring `index` (see `profiles`).
    public static func profilePlot(_ detail: RingsFitDetail, result r: RingsCalibrationResult, ring index: Int) -> LinePlot {
        let (before, after) = profiles(detail, result: r, ring: index)
        let ring = detail.rings[index].ring
        var plot = LinePlot(title: "Ring \(ring.label) \(String(format: "%.4f", ring.spacing)) Å: radial profile before and after correcting the distortion",
                            xLabel: "spatial frequency (1/Å)", yLabel: "power / mean",
                            series: [PlotSeries(name: String(format: "before (mean pixel size %.4f Å only)", r.pixelSize.value), points: before, colour: "#7f7f7f"),
                                     PlotSeries(name: "after (fitted rlnMagMat)", points: after, colour: "#d62728")])
        plot.markers = [PlotMarker(x: 1 / ring.spacing, label: "1/d")]
        return plot
    }

    /// A file-name part for a ring label: its letters and digits ("(111)" → "111").
    public static func fileTag(_ label: String) -> String {
        let s = String(label.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) && $0.isASCII }.map(Character.init))
        return s.isEmpty ? "ring" : s
    }
}
