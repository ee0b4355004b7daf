// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix postprocess`: relion_postprocess (3.1) on two half maps, at the header's or a corrected
// pixel size, and `angpix postprocess rescale`: the quick pixel-size fix of an existing
// postprocess.star (and its map header). The science is in the Postprocess module.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixMRC
import AngpixSTAR
import AngpixPostprocess

struct PostprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postprocess",
        abstract: "FSC, mask correction and sharpening at a corrected pixel size.",
        discussion: """
        Example:
          angpix postprocess run_half1_class001_unfil.mrc run_half2_class001_unfil.mrc --mask mask.mrc -o PostProcess/fixed --angpix 0.51 --auto-bfactor
          angpix postprocess rescale PostProcess/job030/postprocess.star --angpix 0.51 --map PostProcess/job030/postprocess.mrc -o fixed
        """,
        subcommands: [PostprocessRunCommand.self, PostprocessRescaleCommand.self],
        defaultSubcommand: PostprocessRunCommand.self
    )
}

struct PostprocessRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Do what relion_postprocess does: FSC, mask correction, sharpening (the default subcommand).",
        discussion: """
        Writes postprocess.mrc, postprocess_masked.mrc, postprocess.star (RELION's labels) and \
        postprocess_fsc.xml into the output folder; --plot adds postprocess_fsc.svg and \
        postprocess_guinier.svg. Phase randomisation uses RELION's generator and seed, so the \
        numbers match relion_postprocess 3.1.3 run on the same maps with the same options. \
        As in RELION 3.1.3, the map is not low-pass filtered unless --low-pass is given \
        (the FSC weighting already removes what lies beyond the FSC).

        Example:
          angpix postprocess half1.mrc half2.mrc --mask mask.mrc -o PostProcess/fixed --angpix 0.51 --auto-bfactor --plot
        """
    )

    @Argument(help: "The first unfiltered half map (e.g. run_half1_class001_unfil.mrc).")
    var half1: String
    @Argument(help: "The second unfiltered half map.")
    var half2: String
    @Option(name: .long, help: "Solvent mask (values in [0, 1]); without it only the unmasked FSC is used.")
    var mask: String?
    @Option(name: [.short, .customLong("output")], help: "Output folder.")
    var output: String
    @Option(name: .long, help: "Pixel size in Å replacing the half maps' headers (resolution axis, B-factor, output headers).")
    var angpix: Double?
    @Flag(name: .long, help: "Fit the B-factor from the Guinier plot (RELION's --auto_bfac).")
    var autoBfactor = false
    @Option(name: .long, parsing: .unconditional, help: "Apply this B-factor in Å² (negative sharpens, e.g. --bfactor -100; RELION's --adhoc_bfac).")
    var bfactor: Double?
    @Option(name: .long, help: "Lowest resolution in Å of the B-factor fit (RELION's --autob_lowres).")
    var fitFrom: Double = 10
    @Option(name: .long, help: "Highest resolution in Å of the B-factor fit; 0 = as far as the FSC weighting reaches (RELION's --autob_highres).")
    var fitUntil: Double = 0
    @Option(name: .long, help: "Low-pass filter the map at this resolution in Å, or 'final' for the final resolution (default: none, as RELION 3.1.3).")
    var lowPass: String?
    @Option(name: .long, help: "Width in shells of the low-pass filter's raised-cosine edge.")
    var filterEdgeWidth: Int = 2
    @Flag(name: .long, help: "Do not weight the map by √(2·FSC/(1+FSC)).")
    var skipFscWeighting = false
    @Option(name: .long, help: "Randomise phases beyond the shell where the unmasked FSC drops below this.")
    var randomizeAtFsc: Double = 0.8
    @Option(name: .long, help: "Randomise phases beyond this resolution in Å instead.")
    var randomizeAt: Double?
    @Flag(name: .long, help: "Use the mask even if the unmasked FSC extends further.")
    var forceMask = false
    @Option(name: .long, help: "Seed of the phase randomisation (0 = RELION's default).")
    var seed: UInt32 = 0
    @Flag(name: .long, help: "Also write the FSC curves and the Guinier plot as SVG.")
    var plot = false
    @Flag(name: .long, help: "Print the results as JSON.")
    var json = false
    @Flag(name: .long, help: "Overwrite existing output files.")
    var force = false

    func run() throws {
        var options = PostprocessOptions()
        options.pixelSize = angpix
        options.autoBFactor = autoBfactor
        options.bFactor = bfactor ?? 0
        options.fitFrom = fitFrom
        options.fitUntil = fitUntil
        options.skipFSCWeighting = skipFscWeighting
        options.filterEdgeWidth = filterEdgeWidth
        options.randomizeAtFSC = randomizeAtFsc
        options.randomizeAtAngstrom = randomizeAt ?? -1
        options.forceMask = forceMask
        options.randomSeed = seed
        if let lowPass {
            if lowPass.lowercased() == "final" { options.lowPass = -1 }
            else if let v = Double(lowPass), v > 0 { options.lowPass = v }
            else { throw ValidationError("--low-pass takes a resolution in Å or 'final', not '\(lowPass)'") }
        }
        if autoBfactor && bfactor != nil { throw ValidationError("give either --auto-bfactor or --bfactor, not both") }

        let progress = ProgressLine("postprocess", unit: "steps")
        let result = try Postprocessor.run(half1: half1, half2: half2, mask: mask, options: options,
                                           progress: progress.handler)
        progress.finish()
        let inputs = PostprocessInputNames(half1: half1, half2: half2, mask: mask)
        let commandLine = (["angpix"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let policy = OutputPolicy(overwrite: force, inputs: [half1, half2] + (mask.map { [$0] } ?? []))
        let files = try result.write(to: output, inputs: inputs, commandLine: commandLine, policy: policy)
        var plots: [String] = []
        if plot { plots = try result.writePlots(directory: output, policy: policy) }

        for w in result.warnings { warn(w) }
        if json {
            try printJSON(PostprocessReport(result, files: files, plots: plots))
            return
        }
        print(String(format: "Pixel size:           %.4f Å%@", result.pixelSize, angpix == nil ? " (from the header)" : " (--angpix)"))
        if let s = result.randomiseFromShell {
            print(String(format: "Phases randomised beyond: %.3f Å (shell %d)", result.resolution(shell: s), s))
        }
        let nyquist = result.reachesNyquist ? " (Nyquist: the FSC never drops below 0.143)" : ""
        print(String(format: "FINAL RESOLUTION:     %.3f Å (shell %d)%@", result.finalResolutionShell > 0 ? result.finalResolution : 999,
                     result.finalResolutionShell, nyquist))
        if let fit = result.fit {
            print(String(format: "B-factor:             %.2f Å² (Guinier fit over %d shells, slope %.4f, intercept %.4f, correlation %.4f)",
                         result.bFactor, fit.points, fit.slope, fit.intercept, fit.correlation))
        } else {
            print(String(format: "B-factor:             %.2f Å²", result.bFactor))
        }
        if let lp = result.lowPassFilter { print(String(format: "Low-pass filter:      %.3f Å", lp)) }
        print("Wrote \(([files.map] + (files.maskedMap.map { [$0] } ?? []) + [files.star, files.fscXML] + plots).joined(separator: ", "))")
    }
}

struct PostprocessRescaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescale",
        abstract: "Rescale an existing postprocess.star (and its map's header) to a corrected pixel size.",
        discussion: """
        Resolutions scale with the pixel size, spatial frequencies inversely, and the B-factor with \
        its square (B·s² is unchanged); FSC values and the map's voxels do not change. The old pixel \
        size is read from --map's header, or --from, or the FSC table. \
        -o is an output folder (postprocess.star and the map keep their names) or a .star path.

        Example:
          angpix postprocess rescale PostProcess/job030/postprocess.star --angpix 0.51 --map PostProcess/job030/postprocess.mrc -o PostProcess/fixed
        """
    )

    @Argument(help: "The postprocess.star to rescale.")
    var star: String
    @Option(name: .long, help: "The true pixel size in Å.")
    var angpix: Double
    @Option(name: .long, help: "The postprocessed map to rewrite with the corrected header.")
    var map: String?
    @Option(name: .long, help: "The pixel size the star file was made at, in Å (default: the map header or the FSC table).")
    var from: Double?
    @Option(name: [.short, .customLong("output")], help: "Output folder, or the output .star path.")
    var output: String
    @Flag(name: .long, help: "Print the results as JSON.")
    var json = false
    @Flag(name: .long, help: "Overwrite existing output files.")
    var force = false

    struct Report: Encodable {
        var summary: PostprocessRescaleSummary
        var star: String
        var map: String?
        var warnings: [String]
    }

    func run() throws {
        guard angpix > 0, angpix.isFinite else { throw ValidationError("--angpix must be a positive number of Å") }
        let document = try STARDocument(path: star)
        var warnings: [String] = []
        var mapData: MRCMap? = nil
        if let map { mapData = try MRCFile.readMap(path: map) }
        let tablePixel = document.block("fsc").flatMap { PostprocessRescale.pixelSize(fromFSC: $0) }
        let old: Double
        if let from { old = from }
        else if let m = mapData, m.pixelSize > 0 { old = m.pixelSize }
        else if let t = tablePixel { old = t }
        else { throw ValidationError("\(star): cannot tell its pixel size (no data_fsc table); give --from or --map") }
        if let t = tablePixel, abs(t - old) > 2e-3 * old {
            warnings.append(String(format: "%@: its FSC table implies %.4f Å/pixel, but %.4f Å is used as the old pixel size", star, t, old))
        }
        let summary = try PostprocessRescale.rescale(document, path: star, from: old, to: angpix)

        let starOut: String, mapOut: String?
        if output.hasSuffix(".star") {
            starOut = output
            let parent = (output as NSString).deletingLastPathComponent
            if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            mapOut = map.map { ((output as NSString).deletingLastPathComponent as NSString).appendingPathComponent(($0 as NSString).lastPathComponent) }
        } else {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            starOut = (output as NSString).appendingPathComponent((star as NSString).lastPathComponent)
            mapOut = map.map { (output as NSString).appendingPathComponent(($0 as NSString).lastPathComponent) }
        }
        let policy = OutputPolicy(overwrite: force, inputs: [star] + (map.map { [$0] } ?? []))
        try policy.check(starOut)
        if let mapOut { try policy.check(mapOut) }
        try document.write(to: starOut, policy: policy)
        if var m = mapData, let mapOut {
            m.pixelSize = angpix
            try MRCFile.write(m, to: mapOut, policy: policy)
        }
        for w in warnings { warn(w) }
        if json {
            try printJSON(Report(summary: summary, star: starOut, map: mapOut, warnings: warnings))
            return
        }
        print(String(format: "Pixel size:       %.4f Å -> %.4f Å", summary.oldPixelSize, summary.newPixelSize))
        if let o = summary.oldFinalResolution, let n = summary.newFinalResolution {
            print(String(format: "Final resolution: %.3f Å -> %.3f Å", o, n))
        }
        if let o = summary.oldBFactor, let n = summary.newBFactor {
            print(String(format: "B-factor:         %.2f Å² -> %.2f Å²", o, n))
        }
        print("Wrote \(([starOut] + (mapOut.map { [$0] } ?? [])).joined(separator: ", "))")
    }
}
