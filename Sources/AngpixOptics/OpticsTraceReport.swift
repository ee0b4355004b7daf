// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The presentation of an optics trace (OpticsTraceResult): the text `angpix optics trace` prints
// and the JSON document it writes (also the demo's section).

import Foundation
import AngpixCore
import AngpixReport

/// The JSON document of an optics trace: the trace with the keys of the report folder convention
/// (title, summary, tables) next to its own (`angpix optics trace --json`, the demo's section).
public struct OpticsTraceReport: Encodable {
    public var title = "Pixel sizes through relion_refine's rescaling"
    public var summary: [String]
    public var tables: [ReportTable]
    public var result: OpticsTraceResult
    /// The document of trace `r`.
    public init(_ r: OpticsTraceResult) {
        result = r
        var s = [r.opening.replacingOccurrences(of: "\n", with: " ")]
        if let t = r.mapTruePixelSize { s.append("The reconstruction is truly at \(formatFixed(t, decimals: 4)) Å/px (\(r.anchor ?? "")).") }
        s += r.warnings
        summary = s
        let rows = r.groups.map { g in
            [String(g.opticsGroup), g.name, formatFixed(g.nominalPixelSize, decimals: 4), formatFixed(g.refineScale, decimals: 4),
             formatFixed(g.magnification, decimals: 4), g.truePixelSize.map { formatFixed($0, decimals: 4) } ?? "-",
             g.truePixelSizeAfterRescaling.map { formatFixed($0, decimals: 4) } ?? "-"]
        }
        tables = [ReportTable(title: "Optics groups", columns: ["group", "name", "nominal (Å/px)", "refine scale", "rlnMagMat scale", "true (Å/px)", "true after rescaling"], rows: rows)]
    }
    public func encode(to encoder: Encoder) throws {
        // The trace's own keys at the top level, next to title/summary/tables.
        try result.encode(to: encoder)
        enum K: String, CodingKey { case title, summary, tables }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(title, forKey: .title)
        try c.encode(summary, forKey: .summary)
        try c.encode(tables, forKey: .tables)
    }
}

extension OpticsTraceResult {
    /// The first lines of the text: which release is followed and the pixel size H it works at.
    var opening: String {
        var o = "Following relion_refine of \(relion.name)"
        if let z = referenceResize, z.resized {
            o += ": the reference (box \(z.referenceBox), \(formatSignificant(z.referencePixelSize)) Å/px) is resized to box \(z.resampledBox), "
                + "\(formatFixed(z.reachedPixelSize, decimals: 5)) Å/px, windowed to \(z.finalBox);\nevery optics group is rescaled to \(formatFixed(referencePixelSize, decimals: 5)) Å/px;\n"
        } else {
            o += ": every optics group is rescaled to the reference's pixel size \(formatFixed(referencePixelSize, decimals: 4, missing: "-")) Å/px;\n"
        }
        return o + "CtfRefine's rlnMagMat records what is left.\n"
    }

    /// The trace as text for a terminal: the optics-group table and how the reconstruction is anchored.
    public var text: String {
        let r = self
        var o = r.opening
        var header = ["group", "name", "nominal (Å/px)", "refine scale", "rlnMagMat scale", "nominal/mag"]
        let anchored = r.mapTruePixelSize != nil
        if anchored { header += ["true (Å/px)", "true after rescaling"] }
        var rows = [header]
        for g in r.groups {
            var row = [String(g.opticsGroup), g.name, formatFixed(g.nominalPixelSize, decimals: 4, missing: "-"), formatFixed(g.refineScale, decimals: 4, missing: "-"), formatFixed(g.magnification, decimals: 4, missing: "-"), formatFixed(g.naivePixelSize, decimals: 4, missing: "-")]
            if anchored { row += [formatFixed(g.truePixelSize, decimals: 4, missing: "-"), formatFixed(g.truePixelSizeAfterRescaling, decimals: 4, missing: "-")] }
            rows.append(row)
        }
        o += formatTable(rows)
        if let t = r.mapTruePixelSize {
            o += "Reconstruction: header \(formatFixed(r.referencePixelSize, decimals: 4, missing: "-")) Å/px, truly \(formatFixed(t, decimals: 4, missing: "-")) Å/px (\(r.anchor ?? "")).\n"
            o += "The true pixel size of a group is t_map × nominal / (mag × H), not nominal / mag.\n"
        } else {
            o += "Reconstruction: header \(formatFixed(r.referencePixelSize, decimals: 4, missing: "-")) Å/px; give --trusted-group G=PX or --trusted-map PX for absolute pixel sizes.\n"
        }
        return o
    }
}
