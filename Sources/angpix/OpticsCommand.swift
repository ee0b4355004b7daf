// `angpix optics`: effective pixel sizes of optics groups through relion_refine's rescaling to the
// reference's pixel size and CtfRefine's magnification matrices (reference text, "Examples").

import ArgumentParser
import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

struct OpticsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optics",
        abstract: "Effective pixel sizes of optics groups through relion_refine's scaling.",
        subcommands: [OpticsTraceCommand.self, OpticsSetMagnificationCommand.self]
    )
}

struct OpticsTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Follow relion_refine's rescaling and rlnMagMat to the true pixel size of every group and the map.",
        discussion: """
        relion_refine rescales every optics group from its nominal pixel size to the reference's
        header pixel size H; CtfRefine's rlnMagMat00…11 then records how each group's particles
        still differ from the reconstruction. Given one trusted absolute value (one group's true
        pixel size, or the map's, e.g. calibrated against a model), the trace gives the true pixel
        size of every group and of the map. It warns when H matches no group's nominal pixel size
        (a reference from a PostProcess with a corrected pixel size: the 0.98 → 0.96 trap).

        Example:
          angpix optics trace Refine3D/job020/run_data.star --reference-angpix 1.00 --trusted-group 1=1.00
          angpix optics trace particles.star --reference-angpix 1.00 --trusted-map 0.99 --json
        """
    )

    @Argument(help: "A RELION 3.1 STAR file with a data_optics table (after CtfRefine).") var star: String
    @Option(name: .customLong("reference-angpix"), help: "The header pixel size of the reference given to relion_refine, Å.") var referenceAngpix: Double
    @Option(name: .customLong("trusted-group"), help: "G=PX: optics group G is truly at PX Å/px.") var trustedGroup: String?
    @Option(name: .customLong("trusted-map"), help: "The reconstruction is truly at PX Å/px.") var trustedMap: Double?
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        if trustedGroup != nil && trustedMap != nil {
            throw ValidationError("give either --trusted-group or --trusted-map, not both")
        }
    }

    func anchor() throws -> TraceAnchor {
        if let t = trustedGroup {
            let parts = t.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let g = Int(parts[0].trimmingCharacters(in: .whitespaces)),
                  let px = Double(parts[1].trimmingCharacters(in: .whitespaces)) else {
                throw OpticsError.invalidParameter("--trusted-group \(t)", .nan, "expected G=PX, e.g. 1=1.00")
            }
            return .group(g, px)
        }
        if let m = trustedMap { return .map(m) }
        return .none
    }

    func run() throws {
        let anchor = try anchor()
        let doc = try STARDocument(path: star)
        guard let block = doc.block("optics") else { throw OpticsError.missingBlock(file: star, block: "optics") }
        let table = try OpticsTable(block: block, file: star)
        let result = try OpticsTrace.trace(groups: table.groups.map(TraceGroupInput.init), referencePixelSize: referenceAngpix,
                                           anchor: anchor, file: star)
        for w in result.warnings { warn(w) }
        if json {
            try printJSON(JSONOutput(result))
        } else {
            print(Self.text(result), terminator: "")
        }
    }

    /// The trace with the keys of the report folder convention (title, summary, tables) in front.
    struct JSONOutput: Encodable {
        var title = "Pixel sizes through relion_refine's rescaling"
        var summary: [String]
        var tables: [ReportTable]
        var result: OpticsTraceResult
        init(_ r: OpticsTraceResult) {
            result = r
            var s = ["relion_refine rescales each optics group to the reference's pixel size \(r.referencePixelSize) Å/px; CtfRefine's rlnMagMat records what is left."]
            if let t = r.mapTruePixelSize { s.append("The reconstruction is truly at \(String(format: "%.4f", t)) Å/px (\(r.anchor ?? "")).") }
            s += r.warnings
            summary = s
            let rows = r.groups.map { g in
                [String(g.opticsGroup), g.name, String(format: "%.4f", g.nominalPixelSize), String(format: "%.4f", g.refineScale),
                 String(format: "%.4f", g.magnification), g.truePixelSize.map { String(format: "%.4f", $0) } ?? "-",
                 g.truePixelSizeAfterRescaling.map { String(format: "%.4f", $0) } ?? "-"]
            }
            tables = [ReportTable(title: "Optics groups", columns: ["group", "name", "nominal (Å/px)", "refine scale", "rlnMagMat scale", "true (Å/px)", "true after rescaling"], rows: rows)]
        }
        func encode(to encoder: Encoder) throws {
            // The trace's own keys at the top level, next to title/summary/tables.
            try result.encode(to: encoder)
            enum K: String, CodingKey { case title, summary, tables }
            var c = encoder.container(keyedBy: K.self)
            try c.encode(title, forKey: .title)
            try c.encode(summary, forKey: .summary)
            try c.encode(tables, forKey: .tables)
        }
    }

    static func text(_ r: OpticsTraceResult) -> String {
        func f(_ v: Double?, _ d: Int = 4) -> String { v.map { String(format: "%.\(d)f", $0) } ?? "-" }
        var o = "relion_refine rescales every optics group to the reference's pixel size \(f(r.referencePixelSize)) Å/px;\n"
        o += "CtfRefine's rlnMagMat records what is left.\n"
        var header = ["group", "name", "nominal (Å/px)", "refine scale", "rlnMagMat scale", "nominal/mag"]
        let anchored = r.mapTruePixelSize != nil
        if anchored { header += ["true (Å/px)", "true after rescaling"] }
        var rows = [header]
        for g in r.groups {
            var row = [String(g.opticsGroup), g.name, f(g.nominalPixelSize), f(g.refineScale), f(g.magnification), f(g.naivePixelSize)]
            if anchored { row += [f(g.truePixelSize), f(g.truePixelSizeAfterRescaling)] }
            rows.append(row)
        }
        o += formatTable(rows)
        if let t = r.mapTruePixelSize {
            o += "Reconstruction: header \(f(r.referencePixelSize)) Å/px, truly \(f(t)) Å/px (\(r.anchor ?? "")).\n"
            o += "The true pixel size of a group is t_map × nominal / (mag × H), not nominal / mag.\n"
        } else {
            o += "Reconstruction: header \(f(r.referencePixelSize)) Å/px; give --trusted-group G=PX or --trusted-map PX for absolute pixel sizes.\n"
        }
        return o
    }
}
