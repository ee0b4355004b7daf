// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Absolute pixel-size calibration of a map against an atomic model ("angpix calibrate model").
// The reference text: "Computationally, one can compare the map and a refined atomic model.
// However, if the model has been refined against the same map, the model might have been biased
// towards the map." The map is low-passed (Gaussian, half amplitude at the resolution), the model
// rendered with the same low-pass at each trial pixel size (ModelScorer), and the scale searched
// (ScaleSearch).

import AngpixCore
import Foundation
import AngpixModels

/// Settings of a calibration.
public struct CalibrationOptions: Sendable {
    /// Resolution (Å) of the band used: the map and the model map are low-passed to it. Default:
    /// 2.5 × the nominal pixel size.
    public var resolution: Double?
    /// Range of scales of the nominal pixel size searched.
    public var scaleRange: ClosedRange<Double> = 0.90...1.10
    /// Radius (Å) around the atoms where the correlation has full weight.
    public var maskRadius: Double = 3
    /// Leave out atoms without scattering factors instead of failing.
    public var skipUnknownElements = false
    /// Refine an overall B-factor of the model map.
    public var refineBFactor = true
    /// Largest offset refined (Å).
    public var maxOffset: Double = 5
    /// Refine a small rotation of the model about its centroid (at most `maxRotation` degrees)
    /// together with its offset. Off by default: see README ("Calibration against a model").
    public var refineRotation = false
    /// Largest rotation refined (degrees).
    public var maxRotation: Double = 5
    /// The model's file, named in errors about its atoms.
    public var modelPath: String?

    public init(resolution: Double? = nil, scaleRange: ClosedRange<Double> = 0.90...1.10, maskRadius: Double = 3,
                skipUnknownElements: Bool = false) {
        self.resolution = resolution
        self.scaleRange = scaleRange
        self.maskRadius = maskRadius
        self.skipUnknownElements = skipUnknownElements
    }

    func validate(pixelSize: Double) throws {
        guard scaleRange.lowerBound > 0, scaleRange.upperBound > scaleRange.lowerBound else {
            throw CalibrationError.invalidRange("--range must be LOW:HIGH with 0 < LOW < HIGH (got \(scaleRange.lowerBound):\(scaleRange.upperBound))")
        }
        if let r = resolution, !(r > 0 && r.isFinite) {
            throw CalibrationError.invalidRange("--resolution must be a positive number of Å (got \(r))")
        }
        guard maskRadius > 0 else { throw CalibrationError.invalidRange("--mask-radius must be positive (got \(maskRadius))") }
        guard pixelSize > 0, pixelSize.isFinite else { throw CalibrationError.invalidRange("the map's pixel size is \(pixelSize) Å") }
    }
}

/// The answer of a calibration.
public struct CalibrationResult: Sendable, Codable {
    /// The pixel size in the map's header (Å).
    public var nominalPixelSize: Double
    /// The best pixel size (Å).
    public var pixelSize: Double
    /// Its statistical uncertainty (Å, one standard deviation; see `ScaleUncertainty`).
    public var uncertainty: Double
    /// pixelSize / nominalPixelSize.
    public var scale: Double
    /// The correlation at the best pixel size.
    public var score: Double
    /// The resolution used (Å).
    public var resolution: Double
    /// The refined offset of the model (Å, in the map's frame at the best pixel size).
    public var offset: [Double]
    /// The refined rotation of the model about its centroid, as a rotation vector (degrees: the
    /// rotation by its length about its direction), when rotation was refined.
    public var rotation: [Double]?
    /// The angle of that rotation (degrees).
    public var rotationAngle: Double?
    /// The refined overall B-factor of the model map (Å²), for model calibrations.
    public var overallBFactor: Double?
    /// The score against the pixel size: coarse scan plus the optimum.
    public var curve: [ScorePoint]
    /// Independent samples in the mask (used for the uncertainty).
    public var independentSamples: Double
    /// Score evaluations made.
    public var evaluations: Int
    /// Atoms used, for model calibrations.
    public var atoms: Int?
    public var warnings: [String]
}

/// Calibration against an atomic model.
public enum ModelCalibration {
    /// The warning the reference text gives.
    public static let biasWarning = "a model refined against this same map may be biased towards the pixel size the map had during refinement; "
        + "for an independent calibration use a model refined against other data (another map or a crystal structure)"

    /// Finds the pixel size of `map` at which it agrees best with `atoms`.
    public static func run(map input: DensityGrid, atoms: [Atom], options: CalibrationOptions = CalibrationOptions()) throws -> CalibrationResult {
        try options.validate(pixelSize: input.pixelSize)
        let resolution = options.resolution ?? 2.5 * input.pixelSize
        let prepared = try DensityAtoms(atoms: atoms, skipUnknownElements: options.skipUnknownElements, path: options.modelPath)
        guard prepared.count > 0 else { throw CalibrationError.emptyMask }
        let lowPassB = ModelMapSettings.lowPassBFactor(resolution: resolution)
        var map = input
        GaussianFilter.blur(&map.data, nx: map.nx, ny: map.ny, nz: map.nz,
                            sigma: GaussianFilter.sigma(bFactor: lowPassB) / map.pixelSize)
        let maxOffset = options.maxOffset / input.pixelSize
        let scorer = try ModelScorer(map: map, atoms: prepared, lowPassB: lowPassB, maskRadius: options.maskRadius,
                                     scaleRange: options.scaleRange, maxOffset: maxOffset,
                                     maxRotation: options.refineRotation ? options.maxRotation : 0)
        let search = searchScale(range: options.scaleRange, nominalPixel: input.pixelSize, maxOffset: maxOffset,
                                 maxRotation: options.refineRotation ? options.maxRotation : nil,
                                 extraRange: options.refineBFactor ? 0...300 : nil, extraStart: 0) { s, t, r, b in
            scorer.score(scale: s, offset: t, rotation: r, overallB: b)
        }
        _ = scorer.score(scale: search.scale, offset: search.offset, rotation: search.rotation, overallB: search.extra)
        let bestPixel = search.scale * input.pixelSize
        let samples = ScaleUncertainty.independentSamples(maskVoxels: scorer.lastMaskWeight, pixelSize: bestPixel, resolution: resolution)
        let sigmaScale = ScaleUncertainty.sigma(score: search.score, curvature: search.curvature, independentSamples: samples)
        var warnings = [biasWarning]
        if search.atEdge {
            warnings.append("the best pixel size lies at the edge of the searched range: widen --range")
        }
        let angle = SmallRotation(degrees: search.rotation).angle
        if options.refineRotation && angle > 0.9 * options.maxRotation {
            warnings.append(String(format: "the refined rotation (%.2f°) is at its limit of %.1f°: fit the model into the map first", angle, options.maxRotation))
        }
        if search.score < 0.3 {
            warnings.append("weak correlation (\(formatFixed(search.score, decimals: 2))): check that the model is fitted into the map and the resolution is right")
        }
        for (element, n) in prepared.skipped.sorted(by: { $0.key < $1.key }) {
            warnings.append("\(n) atom(s) of element \(element) left out (no scattering factors)")
        }
        return CalibrationResult(
            nominalPixelSize: input.pixelSize, pixelSize: bestPixel, uncertainty: sigmaScale * input.pixelSize,
            scale: search.scale, score: search.score, resolution: resolution,
            offset: [search.offset.x, search.offset.y, search.offset.z].map { $0 * bestPixel },
            rotation: options.refineRotation ? [search.rotation.x, search.rotation.y, search.rotation.z] : nil,
            rotationAngle: options.refineRotation ? angle : nil,
            overallBFactor: options.refineBFactor ? search.extra : nil, curve: search.curve,
            independentSamples: samples, evaluations: scorer.evaluations, atoms: prepared.count, warnings: warnings)
    }
}
