// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix calibrate rings IMAGE… --standard gold|graphene|ice|SPACING`: the absolute pixel size
// and the anisotropic magnification from images of a diffraction standard. Parses,
// calls AngpixRings.RingsCalibration, prints text or JSON; the science and its conventions are in
// Sources/AngpixRings and docs/calibrate-rings.md.

import AngpixCore
import AngpixRings
import AngpixReport
import ArgumentParser
import Foundation

struct CalibrateRingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rings",
        abstract: "Find the pixel size and magnification distortion from the rings of a diffraction standard.",
        discussion: """
        Averages the power spectra of overlapping tiles of every image (MRC micrographs, or MRC \
        movies whose frames are summed), measures each ring of the standard below Nyquist in \
        sectors around the circle, and fits one magnification matrix M (rlnMagMat) to all rings: \
        for an observed frequency k on the ring of spacing d, |M k| = 1/d. Prints the mean pixel \
        size, the anisotropy and its axis, M for data at the nominal pixel size, and MotionCor2's \
        -Mag. Uncertainties come from the fit and from the spread between images (or tile \
        groups of a single image). With -o OUT.json the plots are written beside it as SVG \
        (OUT-spectrum.svg: the averaged spectrum with the fitted ellipses; OUT-profile-111.svg…: \
        each ring's radial profile before and after correcting the distortion); --report writes \
        one self-contained HTML page with the result and the plots. See docs/calibrate-rings.md.

        Standards: gold (fcc, a = 4.0782 Å: 2.355 and 2.039 Å rings), graphene (2.13 and 1.23 Å), \
        ice (3.661 Å), or any spacing in Å.

        Example:
          angpix calibrate rings gold_*.mrc --standard gold --angpix 0.83 -o rings.json --report rings.html
        """
    )

    @Argument(help: "Images of the standard (MRC; movies as MRC stacks are summed).") var images: [String]
    @Option(help: "gold, graphene, ice, or a lattice spacing in Å.") var standard: String
    @Option(help: "The nominal pixel size, Å (default: the header's).") var angpix: Double?
    @Option(help: "Tile size of the power spectra (pixels).") var tile = 512
    @Option(help: "Half-width of the search band around each ring, % of its radius.") var band = 5.0
    @Option(help: "Width of the angular sectors, degrees (must divide 180).") var sector = 5.0
    @Option(name: .shortAndLong, help: "Write the result as JSON to this file, and the plots as SVG beside it.") var output: String?
    @Option(help: "Write an HTML report (the result and the plots) to this file.") var report: String?
    @Flag(help: "Overwrite the output if it exists.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image") }
    }

    func run() throws {
        let std = try DiffractionStandard.named(standard)
        let policy = OutputPolicy(overwrite: force, inputs: images)
        if let output { try policy.check(output) }
        if let report { try policy.check(report) }
        var read: [RingImage] = []
        for path in images { read.append(try RingImageReader.read(path)) }
        // The readers' warnings now, so that they are seen when the calibration then fails.
        let readerWarnings = read.flatMap(\.warnings)
        for w in readerWarnings { warn(w) }
        let progress = ProgressLine("spectra", unit: "images")
        var (result, detail) = try RingsCalibration.run(images: read, standard: std, nominalPixelSize: angpix,
                                                        options: RingsOptions(tileSize: tile, searchBand: band / 100, sectorWidth: sector),
                                                        progress: progress.handler)
        progress.finish()
        read = []
        // The plots: the spectrum, then one profile per used ring.
        var plots: [(name: String, svg: String)] = [("spectrum", RingsPlots.spectrumSVG(detail, result: result))]
        for (i, ring) in detail.rings.enumerated() where ring.used {
            plots.append(("profile-" + RingsPlots.fileTag(ring.ring.label), RingsPlots.profilePlot(detail, result: result, ring: i).svg()))
        }
        if let output {
            // OUT.json → OUT-spectrum.svg, OUT-profile-111.svg… (`angpix report` shows them with OUT.json).
            let stem = output.lowercased().hasSuffix(".json") ? String(output.dropLast(5)) : output
            let paths = plots.map { stem + "-" + $0.name + ".svg" }
            for path in paths { try policy.check(path) }
            result.plots = paths.map { ($0 as NSString).lastPathComponent }
            for (path, plot) in zip(paths, plots) { try writeFileAtomically(plot.svg, to: path, policy: policy) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try writeFileAtomically(encoder.encode(result), to: output, policy: policy)
        }
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            var shown = result
            shown.plots = nil
            let value = try parseHTMLJSON(try encoder.encode(shown))
            let figures = plots.map { HTMLBlock.figure(svg: $0.svg, caption: nil) }
            let page = HTMLPage(title: "angpix calibrate rings", subtitle: "\(result.standard): \(result.images.count) image(s)",
                                sections: [HTMLDirectoryReport.section(from: value, name: "rings", figures: figures)],
                                footer: "Made by angpix calibrate rings.")
            try page.write(to: report, policy: policy)
        }
        for w in result.warnings where !readerWarnings.contains(w) { warn(w) }
        if json { try printJSON(result); return }
        print(Self.text(result), terminator: "")
    }

    static func text(_ r: RingsCalibrationResult) -> String {
        func m(_ x: Measured, _ f: String) -> String {
            var s = String(format: f, x.value) + " ± " + String(format: f, x.fitError) + " (fit)"
            if let e = x.spreadError { s += " ± " + String(format: f, e) + " (\(r.spreadSource))" }
            return s
        }
        var t = "Diffraction rings of \(r.standard): \(r.images.count) image(s), \(r.tiles) tiles of \(r.tileSize) px, nominal pixel size \(String(format: "%.4f", r.nominalPixelSize)) Å\n\n"
        t += "pixel size:        \(m(r.pixelSize, "%.4f")) Å   (nominal / √det M)\n"
        t += "anisotropy:        \(m(r.anisotropyPercent, "%.3f")) %   (m_max / m_min − 1)\n"
        t += "major axis angle:  \(m(r.majorAxisAngle, "%.1f"))°   (lowest magnification; from image +x towards +y)\n"
        if !r.anisotropySignificant { t += "                   (the anisotropy is not significant: the angle means nothing)\n" }
        t += "pixel size along the major / minor axis: \(String(format: "%.4f / %.4f", r.majorAxisPixelSize.value, r.minorAxisPixelSize.value)) Å\n"
        t += "major / minor scale: \(String(format: "%.5f / %.5f", r.majorScale.value, r.minorScale.value))   (stretches that make the image isotropic, product 1)\n\n"
        let mm = r.magMatrix
        t += "rlnMagMat for data at \(String(format: "%.4f", r.nominalPixelSize)) Å/px (RELION 3.1, k' = M k):\n"
        t += String(format: "  rlnMagMat00 %.6f  rlnMagMat01 %.6f  rlnMagMat10 %.6f  rlnMagMat11 %.6f\n", mm.m00, mm.m01, mm.m10, mm.m11)
        t += "MotionCor2:  \(r.motionCor2.arguments)\n\n"
        t += "rings:\n"
        for ring in r.rings {
            if ring.used, let px = ring.pixelSize {
                t += String(format: "  %-8@ %.4f Å  used: %2d/%d sectors, radius %.2f px (%.5f Å⁻¹), significance %.0f, pixel size from this ring %.4f ± %.4f Å\n",
                            ring.label as NSString, ring.spacing, ring.sectorsUsed, ring.sectors, ring.meanRadiusPixels ?? 0,
                            ring.meanFrequency ?? 0, ring.significance ?? 0, px.value, px.fitError)
            } else {
                t += String(format: "  %-8@ %.4f Å  not used: %@\n", ring.label as NSString, ring.spacing, (ring.note ?? "") as NSString)
            }
        }
        if r.singleEstimates.count > 1 {
            t += "\nper \(r.spreadSource == "images" ? "image" : "tile group"):\n"
            for s in r.singleEstimates {
                t += String(format: "  %@: %.4f Å, anisotropy %.3f %% at %.1f°\n", s.source as NSString, s.pixelSize, s.anisotropyPercent, s.majorAxisAngle)
            }
        }
        return t
    }
}
