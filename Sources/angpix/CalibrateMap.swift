// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix calibrate map MAP REFERENCE`: the pixel size of MAP that matches REFERENCE's.

import AngpixCore
import ArgumentParser
import AngpixCalibration
import Foundation

struct CalibrateMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Find the pixel size of a map that matches a reference map of the same structure.",
        discussion: """
        MAP's voxel size is scaled by s over --range (its position refined with s) until it agrees \
        best with REFERENCE, whose pixel size is trusted; both are low-passed to --resolution and \
        compared inside REFERENCE's density (dilated by --mask-radius Å). The maps are overlaid by \
        their header origins (MRC ORIGIN, or NXSTART × pixel size), or by their box centres when \
        both origins are zero (RELION's maps); --overlay origin|centre forces one or the other. \
        MAP is scaled about the centre of REFERENCE's density. Prints the relative scale and MAP's \
        matching pixel size.

        Example:
          angpix calibrate map dataset2/run_class001.mrc dataset1/run_class001.mrc --resolution 4
        """
    )

    @Argument(help: "The map whose pixel size is sought (MRC).") var map: String
    @Argument(help: "The reference map of known pixel size (MRC).") var reference: String
    @Option(help: "Resolution (Å) of the band compared (default: 2.5 × the larger pixel size).") var resolution: Double?
    @Option(help: "Range of scales of MAP's header pixel size searched, LOW:HIGH.") var range = "0.90:1.10"
    @Option(name: .customLong("mask-radius"), help: "Dilation (Å) of the reference's density mask.") var maskRadius = 3.0
    @Option(help: "How the maps are overlaid: auto (origins, or box centres when both origins are 0), origin, centre.")
    var overlay = "auto"
    @Option(help: "Write the score curve as an SVG plot.") var plot: String?
    @Flag(help: "Overwrite the plot if it exists.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let scaleRange = try parseScaleRange(range)
        guard let overlayMode = MapOverlay(rawValue: overlay) else {
            throw ValidationError("--overlay must be auto, origin or centre (got \"\(overlay)\")")
        }
        let m = try readDensityGrid(map)
        let r = try readDensityGrid(reference)
        let options = CalibrationOptions(resolution: resolution, scaleRange: scaleRange, maskRadius: maskRadius)
        let result: CalibrationResult
        do {
            result = try MapCalibration.run(map: m, reference: r, options: options, overlay: overlayMode)
        } catch let e as CalibrationError {
            // The library works on grids in memory; name the files here.
            throw CoreError.invalidArgument("\(map), \(reference): \(e)")
        }
        if let plot {
            try writeScorePlot(result, to: plot, title: "Map against reference: correlation vs pixel size",
                               policy: OutputPolicy(overwrite: force, inputs: [map, reference]))
        }
        if json { try printJSON(result); return }
        printCalibration(result, extra: [String(format: "relative scale:  %.5f (MAP's pixel size / its header's)", result.scale),
                                         String(format: "reference:       %.4f Å", r.pixelSize),
                                         "overlay:         by " + (MapCalibration.resolvedOverlay(overlayMode, map: m, reference: r) == .origin
                                                                   ? "the header origins" : "the box centres")])
    }
}
