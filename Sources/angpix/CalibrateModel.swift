// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix calibrate model MAP MODEL`: the pixel size at which a map agrees best with an atomic model.

import AngpixCore
import ArgumentParser
import AngpixCalibration
import Foundation
import AngpixMRC
import AngpixModels
import AngpixReport

struct CalibrateModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Find the pixel size at which a map agrees best with an atomic model fitted into it.",
        discussion: """
        The map's voxel size is scaled by s over --range and the model's position refined with s; \
        the score is the correlation, within --mask-radius Å of the atoms, of the map and the model's \
        simulated map (Peng et al. 1996 scattering factors), both low-passed to --resolution, with an \
        overall B-factor refined. A coarse scan is followed by a golden-section search; the \
        uncertainty comes from the curvature of the score (statistical only). The model must be \
        fitted into the map as read (same frame; the map origin is taken from the header). \
        --refine-rotation also refines a small rotation (up to 5°) about the model's centroid. \
        A model refined against this same map may be biased towards its pixel size.

        Example:
          angpix calibrate model postprocess.mrc model.pdb --resolution 3.2 --plot score.svg
          angpix calibrate model map.mrc model.cif.gz --range 0.95:1.05 --json
          angpix calibrate model map.mrc model.pdb --resolution 3.5 --refine-rotation
        """
    )

    @Argument(help: "The map (MRC).") var map: String
    @Argument(help: "The atomic model fitted into the map (PDB or mmCIF, optionally .gz).") var model: String
    @Option(help: "Resolution (Å) of the band compared (default: 2.5 × the pixel size); use the map's FSC resolution.")
    var resolution: Double?
    @Option(help: "Range of scales of the header's pixel size searched, LOW:HIGH.") var range = "0.90:1.10"
    @Option(name: .customLong("mask-radius"), help: "Radius (Å) around the atoms where the correlation is computed.")
    var maskRadius = 3.0
    @Flag(name: .customLong("refine-rotation"), help: "Refine a small rotation (up to 5°) of the model with its offset and the scale.")
    var refineRotation = false
    @Flag(name: .customLong("skip-unknown-elements"), help: "Leave out atoms of elements without scattering factors.")
    var skipUnknownElements = false
    @Option(help: "Write the score curve as an SVG plot.") var plot: String?
    @Flag(help: "Overwrite the plot if it exists.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let scaleRange = try parseScaleRange(range)
        let grid = try readDensityGrid(map)
        let atoms = try ModelReader.read(path: model).model.atoms
        var options = CalibrationOptions(resolution: resolution, scaleRange: scaleRange, maskRadius: maskRadius,
                                         skipUnknownElements: skipUnknownElements)
        options.refineBFactor = true
        options.modelPath = model
        options.refineRotation = refineRotation
        let result: CalibrationResult
        do {
            result = try ModelCalibration.run(map: grid, atoms: atoms, options: options)
        } catch let e as CalibrationError {
            // The library works on grids and atoms in memory; name the files here.
            throw CoreError.invalidArgument("\(map), \(model): \(e)")
        }
        if let plot {
            try writeScorePlot(result, to: plot, title: "Map against model: correlation vs pixel size",
                               policy: OutputPolicy(overwrite: force, inputs: [map, model]))
        }
        if json { try printJSON(result); return }
        var extra = ["overall B:       \(formatFixed(result.overallBFactor ?? 0, decimals: 1)) Å²",
                     "atoms:           \(result.atoms ?? 0)"]
        if let r = result.rotation, let angle = result.rotationAngle {
            extra.append(String(format: "rotation:        %.2f° (rotation vector %.2f %.2f %.2f °, about the model's centroid)", angle, r[0], r[1], r[2]))
        }
        printCalibration(result, extra: extra)
    }
}

/// Parses "0.90:1.10".
func parseScaleRange(_ text: String) throws -> ClosedRange<Double> {
    let parts = text.split(separator: ":").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo > 0, hi > lo, hi.isFinite else {
        throw ValidationError("--range must be LOW:HIGH with 0 < LOW < HIGH, e.g. 0.90:1.10 (got \"\(text)\")")
    }
    return lo...hi
}

/// Reads an MRC map as a calibration grid; the origin is the header's ORIGIN if set, else NXSTART·pixel.
func readDensityGrid(_ path: String) throws -> DensityGrid {
    let m = try MRCFile.readMap(path: path)
    if m.pixelSize == 0, try MRCFile.readHeader(path: path).cellIsZero {
        throw MRCError.unknownPixelSize(path: path, operation: "calibration (which searches around the header's pixel size)",
                                        remedy: "write the nominal one into the header with `angpix map set-pixel-size`")
    }
    var origin = SIMD3<Double>(Double(m.origin.x), Double(m.origin.y), Double(m.origin.z))
    if origin == .zero {
        origin = SIMD3(Double(m.start.x), Double(m.start.y), Double(m.start.z)) * m.pixelSize
    }
    guard m.pixelSize > 0, m.pixelSize.isFinite else {
        throw CoreError.invalidArgument("\(path): the header's pixel size is \(m.pixelSize) Å; it must be positive")
    }
    return DensityGrid(nx: m.nx, ny: m.ny, nz: m.nz, pixelSize: m.pixelSize, origin: origin, data: m.data)
}

/// Writes the score curve with the best pixel size marked.
func writeScorePlot(_ result: CalibrationResult, to path: String, title: String, policy: OutputPolicy) throws {
    var plot = LinePlot(title: title, xLabel: "pixel size (Å)", yLabel: "correlation",
                        series: [PlotSeries(name: "score", points: result.curve.map { ($0.pixelSize, $0.score) })])
    plot.markers = [
        PlotMarker(x: result.pixelSize, label: String(format: "best %.4f Å", result.pixelSize), colour: "#d62728"),
        PlotMarker(x: result.nominalPixelSize, label: String(format: "header %.4f Å", result.nominalPixelSize)),
    ]
    try writeFileAtomically(plot.svg(), to: path, policy: policy)
}

/// Prints a calibration result as text.
func printCalibration(_ r: CalibrationResult, extra: [String]) {
    let percent = (r.scale - 1) * 100
    print(String(format: "pixel size:      %.4f ± %.4f Å (header %.4f Å, %+.2f %%)", r.pixelSize, r.uncertainty, r.nominalPixelSize, percent))
    print(String(format: "correlation:     %.4f at %.2f Å resolution", r.score, r.resolution))
    print(String(format: "offset:          %.2f %.2f %.2f Å", r.offset[0], r.offset[1], r.offset[2]))
    for line in extra { print(line) }
    print("score curve:")
    for p in r.curve { print(String(format: "  %.4f Å  %.5f", p.pixelSize, p.score)) }
    for w in r.warnings { warn(w) }
}
