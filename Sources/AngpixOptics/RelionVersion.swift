// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// RELION releases where they differ in what happens to pixel sizes, and RELION 5's resizing of the
// reference in relion_refine.
//
// RELION 3.1 and 4 (src/ml_model.cpp, MlModel::initialiseFromImages): a reference whose header
// pixel size differs from the first optics group's by more than 0.001 Å, or whose box differs, is
// an error unless --trust_ref_size is given; with it the reference is kept and every particle is
// rescaled to the reference's pixel size and box (what RELION's "Pixel size issues" page
// describes). RELION 5 reads --trust_ref_size ("Resize reference if needed?", Yes by default in
// the GUI) the other way round: the reference is resampled towards the first optics group's pixel
// size. Its new box is ROUND(box × p_ref / p_1) (rounded half away from zero), made even by
// dropping one pixel if odd, and it is then windowed to the first group's box. The pixel size
// reached is box × p_ref / new box, which is p_1 only when that division is exact; RELION 5 warns
// when it differs from p_1 by more than 0.001 Å, and the reached value becomes the pixel size of
// the refinement and of its output map.

import AngpixCore
import AngpixFourier

/// A RELION release, as far as pixel sizes are concerned (3.1 and 4 behave alike in relion_refine;
/// 5 resizes the reference).
public enum RelionVersion: String, Sendable, Codable, CaseIterable, Comparable {
    case v3_1 = "3.1"
    case v4 = "4"
    case v5 = "5"

    /// Parses "3.1", "4", "5" (also "4.0", "5.0", "5.0.1", …).
    public init?(argument: String) {
        let t = argument.trimmingCharacters(in: .whitespaces)
        if t == "3.1" || t.hasPrefix("3.1.") { self = .v3_1; return }
        let major = t.split(separator: ".").first.map(String.init) ?? t
        switch major {
        case "4": self = .v4
        case "5": self = .v5
        default: return nil
        }
    }

    /// The releases that write the `# version N` line N at the top of a STAR file: 30001 is
    /// written by RELION 3.1 and 4, 50001 by RELION 5; nil for other numbers.
    public static func writers(ofSTARVersion n: Int) -> [RelionVersion]? {
        switch n {
        case 30001: return [.v3_1, .v4]
        case 50001: return [.v5]
        default: return nil
        }
    }

    /// True when relion_refine resamples a reference at another pixel size than the first optics
    /// group's (RELION 5) instead of rescaling the particles to the reference (3.1 and 4).
    public var resizesReference: Bool { self == .v5 }

    /// "RELION 3.1", "RELION 5".
    public var name: String { "RELION \(rawValue)" }

    var rank: Int { self == .v3_1 ? 0 : self == .v4 ? 1 : 2 }
    public static func < (a: RelionVersion, b: RelionVersion) -> Bool { a.rank < b.rank }

    /// "RELION 3.1, 4 and 5", "RELION 5".
    public static func names(_ versions: [RelionVersion]) -> String {
        let v = versions.sorted().map(\.rawValue)
        if v.count <= 1 { return "RELION " + v.joined() }
        return "RELION " + v.dropLast().joined(separator: ", ") + " and " + v.last!
    }
}

/// What RELION 5's relion_refine does to a reference whose pixel size or box is not the first
/// optics group's ("Resize reference if needed?" = Yes, i.e. --trust_ref_size).
public struct ReferenceResize: Sendable, Codable, Equatable {
    /// RELION's tolerance for "the same pixel size" in relion_refine, Å.
    public static let toleranceAngstrom = 0.001

    /// The reference's box and header pixel size (Å).
    public var referenceBox: Int
    public var referencePixelSize: Double
    /// The first optics group's rlnImagePixelSize (Å) and rlnImageSize.
    public var firstGroupPixelSize: Double
    public var firstGroupBox: Int
    /// Whether RELION 5 resizes at all (pixel sizes more than 0.001 Å apart, or different boxes).
    public var resized: Bool
    /// ROUND(box × p_ref / p_1) made even: the box the reference is resampled to.
    public var resampledBox: Int
    /// box × p_ref / resampled box: the pixel size of the refinement and of its output map (Å).
    public var reachedPixelSize: Double
    /// The box after windowing: the first group's.
    public var finalBox: Int

    /// Reached minus intended (the first group's) pixel size, Å.
    public var differenceAngstrom: Double { reachedPixelSize - firstGroupPixelSize }
    /// Reached over intended, minus 1.
    public var relativeDifference: Double { reachedPixelSize / firstGroupPixelSize - 1 }
    /// True when the reached pixel size is not the intended one within RELION's 0.001 Å (RELION 5
    /// then prints "Although the requested resized pixel size is …").
    public var missesFirstGroup: Bool { resized && abs(differenceAngstrom) > Self.toleranceAngstrom }

    /// RELION 5's prediction for a reference of `referenceBox` pixels at `referencePixelSize` Å and
    /// a first optics group at `firstGroupPixelSize` Å with box `firstGroupBox`.
    public init(referenceBox: Int, referencePixelSize: Double, firstGroupPixelSize: Double, firstGroupBox: Int) throws {
        guard referencePixelSize.isFinite, referencePixelSize > 0 else {
            throw OpticsError.invalidParameter("reference pixel size", referencePixelSize, "must be positive (Å)")
        }
        guard firstGroupPixelSize.isFinite, firstGroupPixelSize > 0 else {
            throw OpticsError.invalidParameter("first optics group's pixel size", firstGroupPixelSize, "must be positive (Å)")
        }
        guard referenceBox >= 2 else {
            throw OpticsError.invalidParameter("reference box", Double(referenceBox), "must be at least 2 pixels")
        }
        self.referenceBox = referenceBox
        self.referencePixelSize = referencePixelSize
        self.firstGroupPixelSize = firstGroupPixelSize
        self.firstGroupBox = firstGroupBox
        resized = abs(referencePixelSize - firstGroupPixelSize) > Self.toleranceAngstrom || referenceBox != firstGroupBox
        if resized {
            // The same rounding as relion_image_handler --rescale_angpix (RescaleTarget).
            guard let box = RescaleTarget.relionBox(oldBox: referenceBox, oldPixelSize: referencePixelSize,
                                                    requested: firstGroupPixelSize), box >= 2 else {
                throw OpticsError.invalidParameter("reference box", Double(referenceBox), "is too small to be resized to \(formatSignificant(firstGroupPixelSize)) Å/px")
            }
            resampledBox = box
            reachedPixelSize = Double(referenceBox) * referencePixelSize / Double(box)
            finalBox = firstGroupBox
        } else {
            resampledBox = referenceBox
            reachedPixelSize = referencePixelSize
            finalBox = referenceBox
        }
    }

    /// A box to pad or crop the reference to first (at its own pixel size) so that resampling it
    /// to the first group's pixel size is exact: b × p_ref / p_1 an even whole number (to 1 part
    /// in 10⁶), at least large enough to hold the first group's box afterwards. The smallest such
    /// box not below `referenceBox` is preferred, then the largest below it; nil if none up to
    /// four times the larger of the two boxes.
    public var exactBox: (box: Int, resampledBox: Int)? {
        let ratio = referencePixelSize / firstGroupPixelSize
        let limit = 4 * max(referenceBox, Int((Double(firstGroupBox) / ratio).rounded(.up)))
        let least = max(2, Int((Double(firstGroupBox) / ratio - 1e-9).rounded(.up)))
        func exact(_ b: Int) -> Int? {
            let n = Double(b) * ratio
            let whole = n.rounded()
            guard whole >= 2, abs(n - whole) <= 1e-6 * n, Int(whole) % 2 == 0 else { return nil }
            return Int(whole)
        }
        if referenceBox >= least {
            for b in referenceBox...max(referenceBox, limit) { if let n = exact(b) { return (b, n) } }
            for b in stride(from: referenceBox - 1, through: least, by: -1) { if let n = exact(b) { return (b, n) } }
        } else {
            for b in least...max(least, limit) { if let n = exact(b) { return (b, n) } }
        }
        return nil
    }
}
