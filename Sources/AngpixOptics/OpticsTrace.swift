// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Effective pixel sizes through relion_refine's two scaling steps (reference text, "Examples":
// one and multiple optics groups):
//
//   1. relion_refine stretches or shrinks the particles of group g from their nominal pixel size
//      p_g to the reference's header pixel size H. A particle truly at t_g is then truly at
//      t_g · H / p_g (1.00 and 0.95 Å/px groups, truly 1.00 and 0.90, H = 1.00: 1.00 and 0.947).
//   2. CtfRefine's anisotropic magnification refinement finds, per group, the matrix
//      rlnMagMat00…11 that maps these particles onto the reconstruction, truly at t_map:
//      isotropic scale m_g = t_map / (t_g · H / p_g)   (0.99 / 1.00 = 0.9900, 0.99 / 0.947 = 1.045).
// Trusting one absolute value fixes all others:
//   trusted group G at T:  t_map = T · H · m_G / p_G;   trusted map at T: t_map = T;
//   then t_g = t_map · p_g / (m_g · H)   (0.990 · 0.95 / 1.045 = 0.900, not 0.95 / 1.045 = 0.9091).
// m_g is the isotropic part √|det M| of the matrix; the anisotropy is reported separately.

import AngpixCore
import Foundation

/// One optics group as the trace needs it.
public struct TraceGroupInput: Sendable, Equatable {
    public var number: Int
    public var name: String
    /// rlnImagePixelSize, Å.
    public var pixelSize: Double
    /// rlnMagMat00…11, nil if absent.
    public var magMatrix: Matrix2x2?
    /// rlnImageSize (pixels), nil if unknown: RELION 5 windows a resized reference to the first group's.
    public var imageSize: Int?
    public init(number: Int, name: String, pixelSize: Double, magMatrix: Matrix2x2? = nil, imageSize: Int? = nil) {
        self.number = number
        self.name = name
        self.pixelSize = pixelSize
        self.magMatrix = magMatrix
        self.imageSize = imageSize
    }
}

/// What absolute value is trusted.
public enum TraceAnchor: Sendable, Equatable {
    case none
    /// The true pixel size of one optics group (number, Å).
    case group(Int, Double)
    /// The true pixel size of the reconstruction (Å), e.g. calibrated against an atomic model.
    case map(Double)
}

/// One optics group's line of the trace.
public struct TracedGroup: Sendable, Codable, Equatable {
    public var opticsGroup: Int
    public var name: String
    public var nominalPixelSize: Double
    /// p_g / H: the factor relion_refine rescales the particle images by (1 = untouched,
    /// below 1 = the particles are shrunk, above 1 = stretched).
    public var refineScale: Double
    /// The isotropic magnification √|det M| from rlnMagMat (1 if absent).
    public var magnification: Double
    /// Largest / smallest singular value of M (1 = isotropic).
    public var anisotropy: Double
    public var magMatrix: Matrix2x2?
    /// p_g / m_g: the tempting but wrong "corrected" pixel size (0.95 / 1.045 = 0.9091).
    public var naivePixelSize: Double
    /// With an anchor: the group's true pixel size.
    public var truePixelSize: Double?
    /// With an anchor: the true pixel size of the group's particles after relion_refine's stretching.
    public var truePixelSizeAfterRescaling: Double?
}

/// The trace of all groups and the reconstruction.
public struct OpticsTraceResult: Sendable, Codable, Equatable {
    /// The pixel size H relion_refine works at (= the output map's header pixel size): the
    /// reference's header pixel size, or with RELION 5 the one its resizing reaches.
    public var referencePixelSize: Double
    /// The RELION release whose relion_refine is followed.
    public var relion: RelionVersion
    /// The header pixel size of the reference as given (Å).
    public var referenceHeaderPixelSize: Double
    /// RELION 5 only: how the reference is resized to the first optics group.
    public var referenceResize: ReferenceResize?
    public var groups: [TracedGroup]
    /// With an anchor: the true pixel size of the reconstruction.
    public var mapTruePixelSize: Double?
    public var anchor: String?
    /// True when rlnMagMat was present for every group.
    public var hasMagnification: Bool
    /// Warnings for a person (the 0.98 → 0.96 trap, missing magnification, …).
    public var warnings: [String]
}

/// The trace itself.
public enum OpticsTrace {
    /// Follows relion_refine's rescaling and CtfRefine's magnification for every group.
    /// `relion` chooses the release (RELION 5 first resizes the reference, see `ReferenceResize`;
    /// `referenceBox` is then the reference's box, by default the first group's rlnImageSize).
    public static func trace(groups: [TraceGroupInput], referencePixelSize headerPixelSize: Double, anchor: TraceAnchor,
                             relion: RelionVersion = .v3_1, referenceBox: Int? = nil,
                             file: String = "<input>") throws -> OpticsTraceResult {
        guard headerPixelSize.isFinite, headerPixelSize > 0 else {
            throw OpticsError.invalidParameter("reference pixel size", headerPixelSize, "must be positive (Å)")
        }
        guard !groups.isEmpty else { throw OpticsError.input(file: file, reason: "no optics groups") }
        var resize: ReferenceResize? = nil
        if relion.resizesReference {
            let first = groups[0]
            guard let groupBox = first.imageSize ?? referenceBox, groupBox > 0 else {
                throw OpticsError.input(file: file, reason: "RELION 5 resizes the reference to the first optics group's box, but group \(first.number) has no rlnImageSize; give the reference's box")
            }
            guard first.pixelSize.isFinite, first.pixelSize > 0 else {
                throw OpticsError.group(file: file, group: first.number, reason: "rlnImagePixelSize = \(formatSignificant(first.pixelSize)) is not positive")
            }
            resize = try ReferenceResize(referenceBox: referenceBox ?? groupBox, referencePixelSize: headerPixelSize,
                                         firstGroupPixelSize: first.pixelSize, firstGroupBox: groupBox)
        }
        let H = resize?.reachedPixelSize ?? headerPixelSize
        var seen = Set<Int>()
        for g in groups {
            guard seen.insert(g.number).inserted else {
                throw OpticsError.group(file: file, group: g.number, reason: "appears twice in data_optics")
            }
            guard g.pixelSize.isFinite, g.pixelSize > 0 else {
                throw OpticsError.group(file: file, group: g.number, reason: "rlnImagePixelSize = \(formatSignificant(g.pixelSize)) is not positive")
            }
            if let m = g.magMatrix {
                guard [m.m00, m.m01, m.m10, m.m11].allSatisfy(\.isFinite), m.inverse != nil else {
                    throw OpticsError.group(file: file, group: g.number,
                                            reason: "rlnMagMat00…11 = \(formatSignificant(m.m00)) \(formatSignificant(m.m01)) \(formatSignificant(m.m10)) \(formatSignificant(m.m11)) is not invertible")
                }
            }
        }
        let mag = { (g: TraceGroupInput) -> Double in g.magMatrix?.isotropicScale ?? 1 }
        var tMap: Double?
        var anchorText: String?
        switch anchor {
        case .none: break
        case let .group(number, t):
            guard t.isFinite, t > 0 else { throw OpticsError.invalidParameter("trusted pixel size of group \(number)", t, "must be positive (Å)") }
            guard let g = groups.first(where: { $0.number == number }) else {
                throw OpticsError.input(file: file, reason: "--trusted-group \(number): no optics group \(number) (groups: \(groups.map { String($0.number) }.joined(separator: ", ")))")
            }
            tMap = t * H * mag(g) / g.pixelSize
            anchorText = "optics group \(number) trusted at \(formatSignificant(t)) Å/px"
        case let .map(t):
            guard t.isFinite, t > 0 else { throw OpticsError.invalidParameter("trusted map pixel size", t, "must be positive (Å)") }
            tMap = t
            anchorText = "reconstruction trusted at \(formatSignificant(t)) Å/px"
        }
        let traced = groups.map { g -> TracedGroup in
            let m = mag(g)
            let sv = g.magMatrix?.singularValues ?? (major: 1, minor: 1)
            let tg = tMap.map { $0 * g.pixelSize / (m * H) }
            return TracedGroup(opticsGroup: g.number, name: g.name, nominalPixelSize: g.pixelSize,
                               refineScale: g.pixelSize / H, magnification: m,
                               anisotropy: sv.minor > 0 ? sv.major / sv.minor : .infinity,
                               magMatrix: g.magMatrix, naivePixelSize: g.pixelSize / m,
                               truePixelSize: tg, truePixelSizeAfterRescaling: tg.map { $0 * H / g.pixelSize })
        }
        var warnings: [String] = []
        let hasMag = groups.allSatisfy { $0.magMatrix != nil }
        if let r = resize, r.resized {
            var w = "RELION 5 resizes the reference from box \(r.referenceBox) at \(formatSignificant(r.referencePixelSize)) Å/px to box \(r.resampledBox) "
                + "(ROUND(\(r.referenceBox) × \(formatSignificant(r.referencePixelSize)) / \(formatSignificant(r.firstGroupPixelSize))) made even), "
                + "which is \(formatSignificant(r.reachedPixelSize, digits: 6)) Å/px, and windows it to box \(r.finalBox): the refinement and its output map are at \(formatSignificant(r.reachedPixelSize, digits: 6)) Å/px"
            if r.missesFirstGroup {
                w += ", not the first optics group's \(formatSignificant(r.firstGroupPixelSize)) Å/px (\(formatFixed(100 * r.relativeDifference, decimals: 3)) %); "
                    + "a reference at \(formatSignificant(r.firstGroupPixelSize)) Å/px and box \(r.firstGroupBox) avoids this"
            }
            warnings.append(w)
        } else if !groups.contains(where: { abs($0.pixelSize - H) <= 1e-4 * H }) {
            let p = groups[0].pixelSize
            warnings.append("the reference's pixel size \(formatSignificant(H)) Å/px matches no optics group's nominal pixel size "
                + "(\(groups.map { formatSignificant($0.pixelSize) }.joined(separator: ", ")) Å/px). If the reference came from a PostProcess "
                + "with a corrected pixel size, relion_refine stretches the particles to it and the output map is truly at "
                + "about \(formatSignificant(H)) × \(formatSignificant(H)) / \(formatSignificant(p)) = \(formatSignificant(H * H / p, digits: 4)) Å/px while its header says \(formatSignificant(H)) "
                + "(the 0.98 → 0.96 trap). Use a reference whose header has the nominal pixel size of the first optics group.")
        }
        if !hasMag && groups.count > 1 {
            warnings.append("rlnMagMat is missing for some groups: their relative pixel sizes are taken as nominal; run CtfRefine with \"Estimate anisotropic magnification\" to measure them")
        }
        for g in traced where g.anisotropy > 1.005 {
            warnings.append("optics group \(g.opticsGroup): anisotropic magnification \(formatFixed((g.anisotropy - 1) * 100, decimals: 2)) %; the pixel sizes given are the isotropic mean")
        }
        return OpticsTraceResult(referencePixelSize: H, relion: relion, referenceHeaderPixelSize: headerPixelSize,
                                 referenceResize: resize, groups: traced, mapTruePixelSize: tMap, anchor: anchorText,
                                 hasMagnification: hasMag, warnings: warnings)
    }

    /// The magnification CtfRefine would find for a group: t_map / (t_g · H / p_g).
    public static func predictedMagnification(nominalPixelSize p: Double, truePixelSize t: Double,
                                              referencePixelSize H: Double, mapTruePixelSize tMap: Double) -> Double {
        tMap / (t * H / p)
    }

    /// The true pixel size of a group's particles after relion_refine rescales them to H: t_g · H / p_g.
    public static func truePixelSizeAfterRescaling(nominalPixelSize p: Double, truePixelSize t: Double,
                                                   referencePixelSize H: Double) -> Double {
        t * H / p
    }
}
