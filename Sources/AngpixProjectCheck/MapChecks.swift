// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Checks of the maps a refinement is given: the reference's header pixel size against the optics
// groups' nominal pixel sizes (relion_refine rescales every particle to the reference's header
// pixel size and box: a PostProcess map with a corrected pixel size reused as a reference is the
// "0.98 → 0.96" trap of RELION's "Pixel size issues" page), and the mask against the reference.

import AngpixCore
import Foundation
import AngpixSTAR
import AngpixMRC

enum MapChecks {
    static func describe(_ h: MRCHeader) -> String {
        "\(h.nx)×\(h.ny)×\(h.nz) at \(px(h.pixelSize)) Å/px"
    }

    static func referenceFindings(reference: String, header: MRCHeader, particles: ParticleFileSummary,
                                  postprocess: PostprocessSummary?) -> [Finding] {
        let h = header.pixelSize
        let groups = particles.groups
        guard let first = groups.first else { return [] }
        let files = [reference, particles.file]
        if h <= 0 {
            return [Finding(.referencePixelSize, .error, files: files,
                problem: "\(reference): the header has no pixel size (\(px(h)) Å/px)",
                why: "relion_refine rescales the particles to the reference's header pixel size.",
                action: "Set the header to the first optics group's pixel size: `angpix map set-pixel-size \(reference) --angpix \(px(first.imagePixelSize)) -o reference_fixed.mrc`.")]
        }
        if let match = groups.first(where: { samePixelSize($0.imagePixelSize, h) }) {
            // Matches a group: fine for the scaling; RELION asks for the first group's size and box.
            var out: [Finding] = []
            if match.number != first.number {
                out.append(Finding(.referenceNotFirstGroup, .info, files: files,
                    problem: "\(reference) is at \(px(h)) Å/px, the pixel size of optics group \(match.number) (\(match.name)), not of the first group (\(first.name), \(px(first.imagePixelSize)) Å/px)",
                    why: "relion_refine works at the reference's pixel size and box: the particles of the other groups are stretched or shrunk to \(px(h)) Å/px, and the output map will be at \(px(h)) Å/px. RELION's documentation asks for the first group's pixel size and box (or --trust_ref_size).",
                    action: "Nothing, if that is intended; otherwise use a reference at \(px(first.imagePixelSize)) Å/px.",
                    values: ["referencePixelSize": h, "groupPixelSize": match.imagePixelSize]))
            } else if match.imageSize > 0 && (header.nx != match.imageSize || header.ny != match.imageSize) {
                out.append(Finding(.referenceNotFirstGroup, .info, files: files,
                    problem: "\(reference) has box \(header.nx), the first optics group (\(match.name)) has box \(match.imageSize)",
                    why: "relion_refine pads or crops the particles to the reference's box; the output map has the reference's box. RELION's documentation asks for the first group's box (or --trust_ref_size).",
                    action: "Nothing, if that is intended; otherwise rescale or crop the reference: `angpix map rescale \(reference) --box \(match.imageSize) -o ref_box\(match.imageSize).mrc`.",
                    values: ["referenceBox": Double(header.nx), "groupBox": Double(match.imageSize)]))
            }
            return out
        }
        // The trap: the header pixel size is none of the groups'.
        let p = first.imagePixelSize
        let stretched = h * h / p
        let nominals = groups.map { "\($0.name) \(px($0.imagePixelSize))" }.joined(separator: ", ")
        var fromPostprocess = ""
        if let pp = postprocess, let ppSize = pp.postprocessPixelSize, samePixelSize(ppSize, h) {
            fromPostprocess = "; it is the pixel size of \(pp.file), so this is a PostProcess map reused as a reference"
        }
        var why = "relion_refine rescales every particle to the reference's header pixel size: particles of nominal \(px(p)) Å/px are stretched by \(formatFixed(p / h, decimals: 4)). "
        why += "If \(px(h)) Å/px is a pixel size corrected in PostProcess (the true size of the \(px(p)) Å/px particles), the new map will truly be \(px(h)) × \(px(h)) / \(px(p)) = \(formatFixed(stretched, decimals: 3)) Å/px while its header says \(px(h)): "
        why += "the error is applied twice (RELION's 0.98 → 0.96 example)."
        return [Finding(.referencePixelSize, .error, files: files,
            problem: "\(reference): header pixel size \(px(h)) Å/px is none of the optics groups' nominal pixel sizes (\(nominals) Å/px)\(fromPostprocess)",
            why: why,
            action: "Refine against a map whose header says the first optics group's nominal pixel size, \(px(p)) Å/px: the Refine3D map rather than the PostProcess one, or `angpix map set-pixel-size \(reference) --angpix \(px(p)) -o reference_\(px(p)).mrc` if only the header was changed (use `angpix map rescale --angpix \(px(p))` if the map really is sampled at \(px(h)) Å/px). Give the true pixel size only to PostProcess.",
            values: ["referencePixelSize": h, "firstGroupPixelSize": p, "stretchedTruePixelSize": stretched])]
    }

    static func maskFindings(mask: String, header: MRCHeader, reference: String, referenceHeader r: MRCHeader) -> [Finding] {
        var out: [Finding] = []
        if !samePixelSize(header.pixelSize, r.pixelSize) {
            out.append(Finding(.maskPixelSize, .error, files: [mask, reference],
                problem: "\(mask) is at \(px(header.pixelSize)) Å/px, \(reference) at \(px(r.pixelSize)) Å/px",
                why: "The mask is applied voxel by voxel to the reference's grid: at another pixel size it is \(formatFixed(100 * abs(header.pixelSize / r.pixelSize - 1), decimals: 1)) % too \(header.pixelSize > r.pixelSize ? "small" : "large") and cuts into the density or lets in noise, and the FSC and resolution are wrong.",
                action: "Make the mask again from a map at \(px(r.pixelSize)) Å/px, or rescale it: `angpix map rescale \(mask) --angpix \(px(r.pixelSize)) --box \(r.nx) -o mask_\(px(r.pixelSize)).mrc`.",
                values: ["maskPixelSize": header.pixelSize, "referencePixelSize": r.pixelSize]))
        }
        if header.nx != r.nx || header.ny != r.ny || header.nz != r.nz {
            out.append(Finding(.maskBox, .error, files: [mask, reference],
                problem: "\(mask) has box \(header.nx)×\(header.ny)×\(header.nz), \(reference) has \(r.nx)×\(r.ny)×\(r.nz)",
                why: "RELION needs the mask on the reference's grid and stops (or, in some programs, misplaces the mask) when the boxes differ.",
                action: "Make the mask from the reference, or pad/crop it to \(r.nx): `angpix map rescale \(mask) --box \(r.nx) -o mask_box\(r.nx).mrc`.",
                values: ["maskBox": Double(header.nx), "referenceBox": Double(r.nx)]))
        }
        return out
    }

    /// Without a reference: a mask at none of the optics groups' pixel sizes is suspicious.
    static func maskAgainstOptics(mask: String, header: MRCHeader, particles: ParticleFileSummary) -> [Finding] {
        guard let first = particles.groups.first,
              !particles.groups.contains(where: { samePixelSize($0.imagePixelSize, header.pixelSize) }) else { return [] }
        let nominals = particles.groups.map { px($0.imagePixelSize) }.joined(separator: ", ")
        return [Finding(.maskPixelSize, .warning, files: [mask, particles.file],
            problem: "\(mask) is at \(px(header.pixelSize)) Å/px, none of the optics groups' pixel sizes (\(nominals) Å/px)",
            why: "A refinement's mask must match its reference, which should be at the first optics group's pixel size (\(px(first.imagePixelSize)) Å/px).",
            action: "Check with --reference; make the mask from the reference you refine against.",
            values: ["maskPixelSize": header.pixelSize, "firstGroupPixelSize": first.imagePixelSize])]
    }
}
