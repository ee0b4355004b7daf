// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the Postprocess module: inputs that relion_postprocess would reject (or silently
// mishandle), each printed as one line naming the file and the reason.

import AngpixCore

/// Why a post-processing run or a postprocess.star rescale cannot go on.
public enum PostprocessError: AngpixError, Equatable {
    /// The map is not a cube (RELION's FSC shells assume nx == ny == nz).
    case notCubic(path: String, nx: Int, ny: Int, nz: Int)
    /// The map is too small to have shells beyond the origin.
    case tooSmall(path: String, size: Int)
    /// Two maps that must match do not have the same box.
    case shapeMismatch(path: String, shape: [Int], otherPath: String, otherShape: [Int])
    /// The two half maps' headers disagree on the pixel size (and --angpix was not given).
    case pixelSizeMismatch(path: String, pixelSize: Double, otherPath: String, otherPixelSize: Double)
    /// The pixel size is missing (0 in the header) or not positive.
    case invalidPixelSize(path: String, pixelSize: Double)
    /// A voxel is NaN or infinite.
    case notFinite(path: String, x: Int, y: Int, z: Int)
    /// Mask values outside [0, 1] (RELION allows 1e-6 of slack).
    case maskOutOfRange(path: String, minimum: Double, maximum: Double)
    /// The mask is zero everywhere.
    case emptyMask(path: String)
    /// The unmasked FSC never drops below the phase-randomisation threshold.
    case fscNeverDropsBelow(threshold: Double)
    /// An option value that makes no sense.
    case invalidOption(String)
    /// A postprocess.star that lacks what rescaling needs.
    case badStar(path: String, reason: String)

    public var description: String {
        switch self {
        case .notCubic(let p, let nx, let ny, let nz):
            return "\(p): the map is \(nx)×\(ny)×\(nz); post-processing needs a cubic box"
        case .tooSmall(let p, let n):
            return "\(p): a \(n)³ box is too small for FSC shells (need at least 8³)"
        case .shapeMismatch(let p, let s, let q, let t):
            return "\(p): box \(s.map(String.init).joined(separator: "×")) differs from \(q) (\(t.map(String.init).joined(separator: "×")))"
        case .pixelSizeMismatch(let p, let a, let q, let b):
            return "\(p): pixel size \(formatSignificant(a)) Å differs from \(q) (\(formatSignificant(b)) Å); give the true one with --angpix"
        case .invalidPixelSize(let p, let a):
            return "\(p): pixel size \(formatSignificant(a)) Å in the header is not usable; give it with --angpix"
        case .notFinite(let p, let x, let y, let z):
            return "\(p): voxel (x=\(x), y=\(y), z=\(z)) is not a finite number (NaN or infinity)"
        case .maskOutOfRange(let p, let lo, let hi):
            return "\(p): mask values must lie in [0, 1], found minimum \(formatSignificant(lo)) and maximum \(formatSignificant(hi))"
        case .emptyMask(let p):
            return "\(p): the mask is zero everywhere"
        case .fscNeverDropsBelow(let t):
            return "the unmasked FSC never drops below \(t), so there is no shell to randomise phases from (give --randomize-at in Å)"
        case .invalidOption(let m):
            return m
        case .badStar(let p, let r):
            return "\(p): \(r)"
        }
    }
}

