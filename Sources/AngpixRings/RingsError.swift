// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the diffraction-ring calibration (`angpix calibrate rings`). Each prints as
// one line naming the file (or the standard) and the reason, following AngpixCore.AngpixError.

import AngpixCore

/// Why a ring calibration could not be made.
public enum RingsError: AngpixError, Equatable {
    /// A file format angpix does not read (TIFF, EER, DM4...).
    case unsupportedFormat(path: String, format: String)
    /// No pixel size in the header and none given.
    case noPixelSize(path: String)
    /// The images' header pixel sizes disagree and no --angpix was given.
    case pixelSizesDiffer(path: String, value: Double, first: String, firstValue: Double)
    /// An image whose size differs from the first image's.
    case sizeDiffers(path: String, nx: Int, ny: Int, first: String, firstNx: Int, firstNy: Int)
    /// The image (or every frame of the movie) is constant: nothing to measure.
    case constantImage(path: String)
    /// The image is smaller than the smallest usable tile.
    case imageTooSmall(path: String, nx: Int, ny: Int, minimum: Int)
    /// A bad option value.
    case invalidOption(String)
    /// An unknown standard name.
    case unknownStandard(String)
    /// Every ring of the standard lies beyond Nyquist (or too close to the centre) at this pixel size.
    case noRingBelowNyquist(standard: String, detail: String)
    /// No ring was found in the band searched.
    case noRingFound(standard: String, detail: String)
    /// The rings were found but the ellipse fit failed (too few sectors, not positive definite).
    case fitFailed(String)
    /// A rings.json file that cannot be used.
    case badResultFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedFormat(let p, let f):
            return "\(p): \(f) files are not supported by `calibrate rings`; convert to MRC first (e.g. an aligned sum from MotionCor2 or RELION's own motion correction, or `tif2mrc` of IMOD)"
        case .noPixelSize(let p):
            return "\(p): the header has no pixel size (0 Å); give the nominal pixel size with --angpix"
        case .pixelSizesDiffer(let p, let v, let f, let fv):
            return String(format: "%@: header pixel size %.4f Å differs from %@'s %.4f Å; give the nominal pixel size with --angpix", p, v, f, fv)
        case .sizeDiffers(let p, let nx, let ny, let f, let fx, let fy):
            return "\(p): \(nx) × \(ny) pixels, but \(f) is \(fx) × \(fy): all images of one calibration must come from the same detector mode"
        case .constantImage(let p):
            return "\(p): the image is constant (or empty): no power spectrum to measure"
        case .imageTooSmall(let p, let nx, let ny, let m):
            return "\(p): \(nx) × \(ny) pixels is too small for a ring calibration (need at least \(m) × \(m))"
        case .invalidOption(let m):
            return m
        case .unknownStandard(let s):
            return "unknown standard \"\(s)\": use gold, graphene, ice or a lattice spacing in Å (e.g. 2.355)"
        case .noRingBelowNyquist(let s, let d):
            return "\(s): no ring can be measured at this pixel size: \(d)"
        case .noRingFound(let s, let d):
            return "\(s): no ring found (wrong standard, nominal pixel size far off, or no crystalline signal): \(d)"
        case .fitFailed(let m):
            return "ring fit failed: \(m)"
        case .badResultFile(let p, let r):
            return "\(p): \(r)"
        }
    }
}
