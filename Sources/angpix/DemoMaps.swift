// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The demo's map sections: a map simulated from the built-in model at a true pixel size but
// labelled with the nominal one (as a refinement at a slightly wrong pixel size gives it), its
// calibration against the model, the header corrected, and PostProcess at the corrected pixel
// size; they leave a small RELION project (Extract, Refine3D, MaskCreate, PostProcess) for
// `angpix check`. The numbers are those of the reference text's one-group example: nominal
// 1.00 Å/px, truly 0.98.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC
import AngpixModels
import AngpixCalibration
import AngpixPostprocess
import AngpixReport

enum DemoMaps {
    static let nominalPixelSize = 1.00
    static let truePixelSize = 0.98
    static let box = 64

    /// The files the map sections leave in the project, for the check.
    struct Project {
        var star: String
        var refineMap: String
        var mask: String
        var postprocessStar: String?
        var postprocessMap: String?
    }

    static func run(_ c: DemoContext) throws -> Project {
        let n = box
        let project = try c.path("project")
        func rel(_ p: String) -> String { String(p.dropFirst(project.count + 1)) }

        // 1. The model, and its map at the true pixel size (the voxel grid starts at 0 Å).
        let centre = SIMD3<Double>(repeating: Double(n / 2) * truePixelSize)
        let atoms = IdealHelixBundle.atoms(centre: centre)
        let grid = MapGrid(nx: n, ny: n, nz: n, pixelSize: truePixelSize)
        let truth = try ModelMap.simulate(atoms: atoms, grid: grid, settings: ModelMapSettings(overallBFactor: 40))
        var pdb = "REMARK   angpix demo: four-helix bundle of ideal alpha-helices (built in)\n"
        for (i, a) in atoms.enumerated() {
            let name = a.name.count < 4 ? " " + a.name.padding(toLength: 3, withPad: " ", startingAt: 0) : a.name
            pdb += String(format: "ATOM  %5d %@ %@ %@%4d    %8.3f%8.3f%8.3f%6.2f%6.2f          %2@\n",
                          i + 1, name, a.residueName, a.chain, a.residueNumber, a.x, a.y, a.z, a.occupancy, a.bFactor, a.element)
        }
        pdb += "END\n"
        try c.writeText(pdb, "project/model/bundle.pdb")

        // 2. Two half maps with independent noise, labelled with the nominal pixel size (as Refine3D writes them).
        let mean = truth.reduce(0, +) / Float(truth.count)
        let sd = (truth.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(truth.count)).squareRoot()
        var rng = SplitMix64(seed: 2021)
        let noise = Double(sd) * 0.9
        let half1 = truth.map { $0 + Float(noise * rng.gaussian()) }
        let half2 = truth.map { $0 + Float(noise * rng.gaussian()) }
        let average = zip(half1, half2).map { ($0 + $1) / 2 }
        let h1 = try c.path("project/Refine3D/job010/run_half1_class001_unfil.mrc")
        let h2 = try c.path("project/Refine3D/job010/run_half2_class001_unfil.mrc")
        let refineMap = try c.path("project/Refine3D/job010/run_class001.mrc")
        try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: nominalPixelSize, data: half1), to: h1, policy: c.policy)
        try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: nominalPixelSize, data: half2), to: h2, policy: c.policy)
        try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: nominalPixelSize, data: average), to: refineMap, policy: c.policy)

        // A soft spherical mask (radius 26 Å, 6-voxel cosine edge) and the particles the refinement used.
        var maskData = [Float](repeating: 0, count: n * n * n)
        let radius = 26.0 / nominalPixelSize, edge = 6.0
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            let d = (Double((x - n / 2) * (x - n / 2) + (y - n / 2) * (y - n / 2) + (z - n / 2) * (z - n / 2))).squareRoot()
            let v = d <= radius ? 1 : d >= radius + edge ? 0 : 0.5 + 0.5 * cos(Double.pi * (d - radius) / edge)
            maskData[(z * n + y) * n + x] = Float(v)
        } } }
        let mask = try c.path("project/MaskCreate/job012/mask.mrc")
        try MRCFile.write(MRCMap(nx: n, ny: n, nz: n, pixelSize: nominalPixelSize, data: maskData), to: mask, policy: c.policy)
        let stack = try c.path("project/Extract/job007/Movies/mic001.mrcs")
        let writer = try MRCStackWriter(path: stack, nx: n, ny: n, pixelSize: nominalPixelSize, policy: c.policy)
        for axis in 0..<3 {
            // Projections along z, y and x, with noise: the "particles".
            var image = [Float](repeating: 0, count: n * n)
            for z in 0..<n { for y in 0..<n { for x in 0..<n {
                let v = truth[(z * n + y) * n + x]
                switch axis {
                case 0: image[y * n + x] += v
                case 1: image[z * n + x] += v
                default: image[z * n + y] += v
                }
            } } }
            for i in image.indices { image[i] += Float(Double(sd) * 20 * rng.gaussian()) }
            try image.withUnsafeBufferPointer { try writer.append($0) }
        }
        try writer.commit()
        let star = try c.path("project/Refine3D/job010/run_data.star")
        let optics = STARBlock(name: "optics", labels: [
            "rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
            "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality",
        ], rows: [["1", "opticsGroup1", "0.100000", "2.700000", "300.000000", formatFixed(nominalPixelSize, decimals: 6), String(n), "2"]])
        let particles = STARBlock(name: "particles", labels: [
            "rlnImageName", "rlnMicrographName", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnAngleRot",
            "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst", "rlnOpticsGroup",
        ], rows: [["000001@Extract/job007/Movies/mic001.mrcs", "MotionCorr/job002/Movies/mic001.mrc", "12000.0", "11800.0", "30.0", "0", "0", "0", "0", "0", "1"],
                  ["000002@Extract/job007/Movies/mic001.mrcs", "MotionCorr/job002/Movies/mic001.mrc", "12000.0", "11800.0", "30.0", "90", "90", "0", "0", "0", "1"],
                  ["000003@Extract/job007/Movies/mic001.mrcs", "MotionCorr/job002/Movies/mic001.mrc", "12000.0", "11800.0", "30.0", "0", "90", "0", "0", "0", "1"]])
        try STARDocument(blocks: [optics, particles]).write(to: star, policy: c.policy)

        // 3. Calibration of the refined map against the model.
        let started = Date()
        var options = CalibrationOptions(resolution: 3.5, scaleRange: 0.94...1.06, maskRadius: 3)
        options.refineBFactor = true
        let calibration = try ModelCalibration.run(map: DensityGrid(nx: n, ny: n, nz: n, pixelSize: nominalPixelSize, data: average),
                                                   atoms: atoms, options: options)
        let seconds = Date().timeIntervalSince(started)
        let calibrated = (calibration.pixelSize * 1000).rounded() / 1000
        var plot = LinePlot(title: "Map against the model: correlation vs pixel size", xLabel: "pixel size (Å)", yLabel: "correlation",
                            series: [PlotSeries(name: "correlation (map at 3.5 Å)", points: calibration.curve.map { ($0.pixelSize, $0.score) }, colour: "#1f77b4", lineWidth: 2)])
        plot.markers = [PlotMarker(x: calibration.pixelSize, label: "best \(formatFixed(calibration.pixelSize, decimals: 4)) Å", colour: "#d62728"),
                        PlotMarker(x: nominalPixelSize, label: "header \(formatFixed(nominalPixelSize, decimals: 2)) Å"),
                        PlotMarker(x: truePixelSize, label: "truth \(formatFixed(truePixelSize, decimals: 2)) Å", colour: "#2ca02c")]
        try c.writeText(plot.svg(), "05-calibration.svg")
        let curveRows = calibration.curve.map { [formatFixed($0.pixelSize, decimals: 4), formatFixed($0.scale, decimals: 4), formatFixed($0.score, decimals: 4)] }
        try c.writeJSON(DemoSection(
            title: "A map calibrated against an atomic model",
            summary: ["The built-in model (a bundle of four ideal α-helices, \(atoms.count) atoms: project/model/bundle.pdb) was turned into a map at its true pixel size, \(formatFixed(truePixelSize, decimals: 2)) Å/px, and two half maps with independent noise were written with the header of the refinement, \(formatFixed(nominalPixelSize, decimals: 2)) Å/px (project/Refine3D/job010).",
                      "angpix calibrate model finds \(formatFixed(calibration.pixelSize, decimals: 4)) ± \(formatFixed(calibration.uncertainty, decimals: 4)) Å/px (correlation \(formatFixed(calibration.score, decimals: 3)) at \(formatFixed(calibration.resolution, decimals: 1)) Å, in \(formatFixed(seconds, decimals: 1)) s): the header is \(formatFixed(100 * (nominalPixelSize / calibration.pixelSize - 1), decimals: 1)) % too large.",
                      "The reference text warns: a model refined against this same map may be biased towards the pixel size the map had during refinement."],
            tables: [ReportTable(title: "Score curve", columns: ["pixel size (Å)", "scale", "correlation"], rows: curveRows)],
            plots: ["05-calibration.svg"],
            values: ["pixelSize": calibration.pixelSize, "uncertainty": calibration.uncertainty, "score": calibration.score,
                     "headerPixelSize": nominalPixelSize, "truePixelSize": truePixelSize, "seconds": seconds]), "05-calibration.json")
        c.say("Map simulated at \(formatFixed(truePixelSize, decimals: 2)) Å/px from the built-in model, labelled \(formatFixed(nominalPixelSize, decimals: 2)); calibrated against the model: \(formatFixed(calibration.pixelSize, decimals: 4)) ± \(formatFixed(calibration.uncertainty, decimals: 4)) Å/px")
        c.overview.append(["Calibration against a model", "map labelled \(formatFixed(nominalPixelSize, decimals: 2)) Å/px, truly \(formatFixed(truePixelSize, decimals: 2)): found \(formatFixed(calibration.pixelSize, decimals: 4)) ± \(formatFixed(calibration.uncertainty, decimals: 4)) Å/px"])

        // 4. The header corrected (a copy for model building and deposition; the refinement keeps
        //    the nominal pixel size), and PostProcess at the corrected pixel size.
        let corrected = try c.path("project/Refine3D/job010/run_class001_angpix\(formatFixed(calibrated, decimals: 3)).mrc")
        try MRCFile.rewriteHeader(input: refineMap, output: corrected, policy: c.policy) { $0.setPixelSize(calibrated) }
        var ppOptions = PostprocessOptions()
        ppOptions.pixelSize = calibrated
        ppOptions.autoBFactor = true
        let pp = try Postprocessor.run(half1: h1, half2: h2, mask: mask, options: ppOptions)
        var nominalOptions = PostprocessOptions()
        nominalOptions.autoBFactor = true
        let ppNominal = try Postprocessor.run(half1: h1, half2: h2, mask: mask, options: nominalOptions)
        let ppDir = try c.path("project/PostProcess/job011")
        let files = try pp.write(to: ppDir, inputs: PostprocessInputNames(half1: rel(h1), half2: rel(h2), mask: rel(mask)),
                                 commandLine: "angpix postprocess \(rel(h1)) \(rel(h2)) --mask \(rel(mask)) --angpix \(formatFixed(calibrated, decimals: 3)) --auto-bfactor -o PostProcess/job011",
                                 policy: c.policy)
        // The plots `angpix postprocess --plot` writes, in the job folder and in the report.
        let plots = try pp.writePlots(directory: ppDir, policy: c.policy)
        for (plot, name) in zip(plots, ["06-postprocess-fsc.svg", "06-postprocess-guinier.svg"]) {
            try c.writeText(try String(contentsOfFile: plot, encoding: .utf8), name)
        }
        try c.writeJSON(DemoSection(
            title: "PostProcess at the corrected pixel size",
            summary: ["The refinement keeps \(formatFixed(nominalPixelSize, decimals: 2)) Å/px (its CTF parameters are consistent with it). The calibrated pixel size goes into the header of a copy of the map (\(rel(corrected))) and into PostProcess: angpix postprocess … --angpix \(formatFixed(calibrated, decimals: 3)) (\(rel(files.star))).",
                      "Final resolution \(formatFixed(pp.finalResolution, decimals: 2)) Å at \(formatFixed(calibrated, decimals: 3)) Å/px (at the header's \(formatFixed(nominalPixelSize, decimals: 2)) Å/px it would read \(formatFixed(ppNominal.finalResolution, decimals: 2)) Å); B-factor \(formatFixed(pp.bFactor, decimals: 1)) Å² (\(formatFixed(ppNominal.bFactor, decimals: 1)) Å² at \(formatFixed(nominalPixelSize, decimals: 2)) Å/px)."],
            tables: [ReportTable(title: "PostProcess at two pixel sizes", columns: ["pixel size (Å)", "final resolution (Å)", "B-factor (Å²)", "postprocess.mrc header (Å/px)"],
                                 rows: [[formatFixed(nominalPixelSize, decimals: 3), formatFixed(ppNominal.finalResolution, decimals: 2), formatFixed(ppNominal.bFactor, decimals: 1), formatFixed(ppNominal.pixelSize, decimals: 3)],
                                        [formatFixed(calibrated, decimals: 3), formatFixed(pp.finalResolution, decimals: 2), formatFixed(pp.bFactor, decimals: 1), formatFixed(pp.map.pixelSize, decimals: 3)]])],
            plots: ["06-postprocess-fsc.svg", "06-postprocess-guinier.svg"],
            notes: ["postprocess.mrc now says \(formatFixed(calibrated, decimals: 3)) Å/px: never use it as a reference for Refine3D/Class3D with these particles (next section)."]),
            "06-postprocess.json")
        c.say("Header corrected to \(formatFixed(calibrated, decimals: 3)) Å/px; PostProcess at \(formatFixed(calibrated, decimals: 3)) Å/px: final resolution \(formatFixed(pp.finalResolution, decimals: 2)) Å (\(formatFixed(ppNominal.finalResolution, decimals: 2)) Å at the header's \(formatFixed(nominalPixelSize, decimals: 2)))")
        c.overview.append(["PostProcess at the corrected pixel size", "\(formatFixed(pp.finalResolution, decimals: 2)) Å at \(formatFixed(calibrated, decimals: 3)) Å/px (\(formatFixed(ppNominal.finalResolution, decimals: 2)) Å at \(formatFixed(nominalPixelSize, decimals: 2)))"])
        return Project(star: star, refineMap: refineMap, mask: mask, postprocessStar: files.star, postprocessMap: files.map)
    }
}
