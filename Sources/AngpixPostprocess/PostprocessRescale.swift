// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The quick pixel-size fix of an existing postprocess.star (the reference text's first answer,
// without the half maps): every Å value is rescaled from the old pixel size p to the new one p'
// (r = p'/p), because the map itself is unchanged in pixels:
//   resolutions in Å (rlnFinalResolution, rlnRandomiseFrom, rlnAngstromResolution) × r,
//   spatial frequencies (rlnResolution) ÷ r, rlnResolutionSquared ÷ r²,
//   the B-factor (and the Guinier slope, B = 4·slope) × r²: exp(−B·s²/4) must stay the same filter
//   when s (in Å⁻¹) shrinks by r, so B·s² is invariant.
// Shell 0 keeps RELION's 999 Å placeholder. FSC and ln-amplitude values are unchanged.
// The old pixel size comes from the map header when given, else from data_fsc (d_i = N·p/i with
// N = 2·(rows − 1)), else from the caller.
//
// A full re-run at p' can differ slightly in the fitted B-factor, because the 10 Å start of the fit
// then falls on another shell; the FSC, the resolution shell and the map do not change.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC

/// What a rescale changed.
public struct PostprocessRescaleSummary: Sendable, Codable {
    public var oldPixelSize: Double
    public var newPixelSize: Double
    public var oldFinalResolution: Double?
    public var newFinalResolution: Double?
    public var oldBFactor: Double?
    public var newBFactor: Double?
}

/// Rescaling of postprocess.star tables to a corrected pixel size.
public enum PostprocessRescale {
    /// The pixel size implied by data_fsc (nil if the table cannot tell).
    public static func pixelSize(fromFSC block: STARBlock) -> Double? {
        guard block.has("rlnSpectralIndex"), block.has("rlnAngstromResolution"), block.rowCount >= 2,
              let idx = try? block.ints("rlnSpectralIndex"),
              let res = try? block.doubles("rlnAngstromResolution") else { return nil }
        let n = 2 * (idx.max()! )
        guard n > 0 else { return nil }
        // The largest shell carries the most digits relative to its value.
        guard let k = idx.indices.max(by: { idx[$0] < idx[$1] }), idx[k] > 0 else { return nil }
        return res[k] * Double(idx[k]) / Double(n)
    }

    /// Rescales `document` (a postprocess.star read from `path`) in place from `oldPixelSize` to `newPixelSize`.
    public static func rescale(_ document: STARDocument, path: String, from oldPixelSize: Double,
                               to newPixelSize: Double) throws -> PostprocessRescaleSummary {
        guard oldPixelSize > 0, oldPixelSize.isFinite else { throw PostprocessError.badStar(path: path, reason: "the old pixel size \(formatSignificant(oldPixelSize)) Å is not usable") }
        guard newPixelSize > 0, newPixelSize.isFinite else { throw PostprocessError.invalidOption("--angpix must be a positive number of Å, not \(formatSignificant(newPixelSize))") }
        guard let general = document.block("general") else { throw PostprocessError.badStar(path: path, reason: "no data_general block: not a postprocess.star") }
        let r = newPixelSize / oldPixelSize
        var summary = PostprocessRescaleSummary(oldPixelSize: oldPixelSize, newPixelSize: newPixelSize)

        func scaleValue(_ block: STARBlock, _ label: String, _ factor: Double) throws -> (Double, Double)? {
            guard block.has(label) else { return nil }
            if block.isLoop {
                let v = try block.doubles(label)
                block.setColumn(label, v.map { formatRelionNumber($0 == 999 ? 999 : $0 * factor) })
                return nil
            }
            guard let text = block.value(label) else { return nil }
            guard let v = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw PostprocessError.badStar(path: path, reason: "_\(label) value '\(text)' is not a number")
            }
            let nv = v == 999 ? 999 : v * factor
            block.setColumn(label, [formatRelionNumber(nv)])
            return (v, nv)
        }
        if let (o, n) = try scaleValue(general, "rlnFinalResolution", r) {
            summary.oldFinalResolution = o; summary.newFinalResolution = n
        }
        if let (o, n) = try scaleValue(general, "rlnBfactorUsedForSharpening", r * r) {
            summary.oldBFactor = o; summary.newBFactor = n
        }
        _ = try scaleValue(general, "rlnRandomiseFrom", r)
        _ = try scaleValue(general, "rlnFittedSlopeGuinierPlot", r * r)

        if let fsc = document.block("fsc") {
            guard fsc.isLoop else { throw PostprocessError.badStar(path: path, reason: "data_fsc is not a table") }
            if fsc.has("rlnAngstromResolution") {
                let d = try fsc.doubles("rlnAngstromResolution")
                fsc.setColumn("rlnAngstromResolution", d.map { formatRelionNumber($0 == 999 ? 999 : $0 * r) })
            }
            if fsc.has("rlnResolution") {
                // 1/d, except the 1/999 placeholder of shell 0.
                let f = try fsc.doubles("rlnResolution")
                let d = fsc.has("rlnAngstromResolution") ? try fsc.doubles("rlnAngstromResolution") : f.map { 1 / $0 }
                fsc.setColumn("rlnResolution", f.indices.map { i in formatRelionNumber(d[i] == 999 ? f[i] : f[i] / r) })
            }
        }
        if let g = document.block("guinier"), g.isLoop, g.has("rlnResolutionSquared") {
            let x = try g.doubles("rlnResolutionSquared")
            g.setColumn("rlnResolutionSquared", x.map { formatRelionNumber($0 / (r * r)) })
        }
        return summary
    }
}
