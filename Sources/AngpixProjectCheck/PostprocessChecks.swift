// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Checks of a postprocess.star (RELION's PostProcess output: data_general names the half maps,
// data_fsc has one row per Fourier shell with rlnSpectralIndex i and rlnResolution i / (box ×
// pixel size) in 1/Å). The pixel size PostProcess used is recovered from data_fsc and compared
// with the half maps' headers: they differ when PostProcess was given a corrected pixel size
// (`--angpix`), which is right for reporting the resolution, and a trap if its map is then used
// as a reference.

import AngpixCore
import Foundation
import AngpixSTAR
import AngpixMRC

struct PostprocessSummary {
    var file: String
    var half1: String?
    var half2: String?
    var half1Path: String?
    var half2Path: String?
    var half1Header: MRCHeader?
    var half2Header: MRCHeader?
    /// The pixel size PostProcess used (from data_fsc and the half maps' box), if it can be told.
    var postprocessPixelSize: Double?
    var finalResolution: Double?

    var checkedLine: String {
        var line = "\(file):"
        if let p = postprocessPixelSize { line += " made at \(px(p)) Å/px" }
        if let r = finalResolution { line += ", final resolution \(formatFixed(r, decimals: 2)) Å" }
        if let h = half1Header { line += "; half maps \(MapChecks.describe(h))" }
        return line
    }
}

enum PostprocessChecks {
    static func read(_ file: String, paths: PathResolver) throws -> PostprocessSummary {
        let doc = try STARDocument(path: file)
        guard let general = doc.block("general"), general.value("rlnUnfilteredMapHalf1") != nil || doc.block("fsc") != nil else {
            throw ProjectCheckError.noGeneralTable(file: file)
        }
        var s = PostprocessSummary(file: file)
        s.half1 = general.value("rlnUnfilteredMapHalf1")
        s.half2 = general.value("rlnUnfilteredMapHalf2")
        s.finalResolution = general.value("rlnFinalResolution").flatMap(Double.init)
        s.half1Path = s.half1.flatMap(paths.resolve)
        s.half2Path = s.half2.flatMap(paths.resolve)
        s.half1Header = try s.half1Path.map { try MRCFile.readHeader(path: $0) }
        s.half2Header = try s.half2Path.map { try MRCFile.readHeader(path: $0) }
        if let fsc = doc.block("fsc"), fsc.has("rlnSpectralIndex"), fsc.has("rlnResolution") {
            let index = try fsc.doubles("rlnSpectralIndex")
            let resolution = try fsc.doubles("rlnResolution")
            // Box: the half maps', else twice the last shell (RELION writes shells 0 … box/2).
            let box = s.half1Header.map { Double($0.nx) } ?? (index.max().map { 2 * $0 } ?? 0)
            // Use the outermost shell: the most digits of the pixel size.
            if box > 0, let r = zip(index, resolution).filter({ $0.0 > 0 && $0.1 > 0 }).max(by: { $0.0 < $1.0 }) {
                s.postprocessPixelSize = r.0 / (box * r.1)
            }
        }
        return s
    }

    static func findings(_ s: PostprocessSummary) -> [Finding] {
        var out: [Finding] = []
        let missing = [(s.half1, s.half1Path), (s.half2, s.half2Path)].compactMap { name, path in path == nil ? name : nil }
        if !missing.isEmpty {
            out.append(Finding(.halfMapMissing, .warning, files: [s.file] + missing,
                problem: "half map\(missing.count == 1 ? "" : "s") named in \(s.file) not found: \(missing.joined(separator: ", "))",
                why: "Without the half maps the pixel size PostProcess used cannot be compared with theirs.",
                action: "Run the check from the RELION project folder (or give --project)."))
        }
        if let a = s.half1Header, let b = s.half2Header,
           !samePixelSize(a.pixelSize, b.pixelSize) || a.nx != b.nx || a.ny != b.ny || a.nz != b.nz {
            out.append(Finding(.halfMapsDiffer, .error, files: [s.half1 ?? "", s.half2 ?? ""],
                problem: "the half maps differ: \(s.half1 ?? "half 1") is \(MapChecks.describe(a)), \(s.half2 ?? "half 2") is \(MapChecks.describe(b))",
                why: "An FSC between maps of different sampling is meaningless.",
                action: "Use the two half maps of one refinement.",
                values: ["half1PixelSize": a.pixelSize, "half2PixelSize": b.pixelSize]))
        }
        if let h = s.half1Header, let p = s.postprocessPixelSize, h.pixelSize > 0, !samePixelSize(p, h.pixelSize) {
            let y = h.pixelSize
            let resolutionNote = s.finalResolution.map { " The final resolution \(formatFixed($0, decimals: 2)) Å is at \(px(p)) Å/px (\(formatFixed($0 * y / p, decimals: 2)) Å at the half maps' \(px(y)) Å/px)." } ?? ""
            out.append(Finding(.postprocessPixelSize, .warning, files: [s.file, s.half1 ?? ""],
                problem: "\(s.file) was made at \(px(p)) Å/px, its half maps' headers say \(px(y)) Å/px (PostProcess was given --angpix \(px(p)))",
                why: "That is right when \(px(p)) Å/px is the calibrated true pixel size: the resolution, the B-factor and the header of postprocess.mrc are then in true Å.\(resolutionNote) But postprocess.mrc must not be used as a reference for Refine3D, Class3D or MultiBody with the particles at nominal \(px(y)) Å/px: relion_refine would stretch them to \(px(p)) Å/px and the next map would truly be \(px(p)) × \(px(p)) / \(px(y)) = \(formatFixed(p * p / y, decimals: 3)) Å/px.",
                action: "Keep \(px(y)) Å/px everywhere in the refinement (STAR files, references, masks); use \(px(p)) Å/px only in PostProcess and for deposition. If \(px(p)) was not meant, rerun PostProcess without --angpix.",
                values: ["postprocessPixelSize": p, "halfMapPixelSize": y]))
        }
        return out
    }
}
