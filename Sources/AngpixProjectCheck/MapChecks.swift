// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Checks of the maps a refinement is given: the reference's header pixel size against the optics
// groups' nominal pixel sizes (relion_refine rescales every particle to the reference's header
// pixel size and box: a PostProcess map with a corrected pixel size reused as a reference is the
// "0.98 → 0.96" trap of RELION's "Pixel size issues" page), and the mask against the reference.

import AngpixCore
import Foundation
import AngpixSTAR
import AngpixMRC
import AngpixOptics

enum MapChecks {
    static func describe(_ h: MRCHeader) -> String {
        "\(h.nx)×\(h.ny)×\(h.nz) at \(px(h.pixelSize)) Å/px"
    }

    /// The reference's findings for the RELION releases in `versions`: 3.1 and 4 rescale the
    /// particles to the reference (below), 5 resizes the reference (`relion5Resize`).
    static func referenceFindings(reference: String, header: MRCHeader, particles: ParticleFileSummary,
                                  postprocess: PostprocessSummary?, versions: [RelionVersion],
                                  finalResolution: Double?) -> [Finding] {
        var out: [Finding] = []
        if versions.contains(where: { !$0.resizesReference }) {
            out += referenceFindings31(reference: reference, header: header, particles: particles, postprocess: postprocess)
                .map { var f = $0; f.relion = [.v3_1, .v4]; return f }
        }
        if versions.contains(.v5) {
            out += relion5Resize(reference: reference, header: header, particles: particles, finalResolution: finalResolution)
        }
        return out
    }

    /// RELION 5 resamples a reference at another pixel size than the first optics group's to the
    /// first group's, reaching box × p_ref / new box (Optics module, `ReferenceResize`).
    static func relion5Resize(reference: String, header: MRCHeader, particles: ParticleFileSummary,
                              finalResolution: Double?) -> [Finding] {
        guard let first = particles.groups.first, first.imagePixelSize > 0, first.imageSize > 0, header.pixelSize > 0,
              header.nx == header.ny,
              let r = try? ReferenceResize(referenceBox: header.nx, referencePixelSize: header.pixelSize,
                                           firstGroupPixelSize: first.imagePixelSize, firstGroupBox: first.imageSize),
              r.resized, abs(r.referencePixelSize - r.firstGroupPixelSize) > ReferenceResize.toleranceAngstrom else { return [] }
        let files = [reference, particles.file]
        let p1 = px(first.imagePixelSize)
        let reached = formatFixed(r.reachedPixelSize, decimals: 5)
        let rounding = "ROUND(\(r.referenceBox) × \(px(r.referencePixelSize)) / \(p1)) = \(Int((Double(r.referenceBox) * r.referencePixelSize / r.firstGroupPixelSize).rounded(.toNearestOrAwayFromZero)))"
        var values: [String: Double] = ["referencePixelSize": r.referencePixelSize, "firstGroupPixelSize": r.firstGroupPixelSize,
                                        "reachedPixelSize": r.reachedPixelSize, "resampledBox": Double(r.resampledBox)]
        // A reference at a pixel size corrected in PostProcess: RELION 5 does not fall into the
        // 0.98 → 0.96 trap, but the resized reference is off the particles' nominal scale.
        var corrected = ""
        if !particles.groups.contains(where: { samePixelSize($0.imagePixelSize, r.referencePixelSize) }) {
            corrected = " If \(px(r.referencePixelSize)) Å/px is a pixel size corrected in PostProcess, the resized reference is \(formatFixed(100 * abs(r.referencePixelSize / r.firstGroupPixelSize - 1), decimals: 1)) % off the particles' nominal scale at the start of the refinement (the output stays at the particles' scale: RELION 5 does not repeat the 0.98 → 0.96 error of 3.1 and 4); a reference at the nominal pixel size is still the right one."
        }
        guard r.missesFirstGroup else {
            return [Finding(.referenceResize, .info, files: files,
                problem: "RELION 5 will resize \(reference) (box \(r.referenceBox), \(px(r.referencePixelSize)) Å/px) to box \(r.resampledBox) at \(reached) Å/px, the first optics group's \(p1) Å/px within RELION's 0.001 Å, and window it to box \(r.finalBox)",
                why: "relion_refine of RELION 5 (\"Resize reference if needed?\" Yes, --trust_ref_size) resamples the reference to the first group's pixel size; RELION 3.1 and 4 would instead rescale the particles to the reference." + corrected,
                action: "Nothing needed.", values: values, relion: [.v5])]
        }
        let pct = formatFixed(100 * abs(r.relativeDifference), decimals: 3)
        var problem = "RELION 5 will resize \(reference) (box \(r.referenceBox), \(px(r.referencePixelSize)) Å/px) to box \(r.resampledBox) (\(rounding), made even), which is \(reached) Å/px, not the first optics group's \(p1) Å/px: \(formatFixed(abs(r.differenceAngstrom), decimals: 5)) Å (\(pct) %) off"
        if let d = finalResolution, d > 0 {
            let shift = d * abs(r.relativeDifference)
            problem += "; at the final resolution of \(formatFixed(d, decimals: 2)) Å that is \(formatFixed(shift, decimals: 4)) Å (\(pct) %)"
            values["finalResolution"] = d
            values["resolutionDifference"] = shift
        }
        values["relativeDifference"] = r.relativeDifference
        let why = "relion_refine of RELION 5 (\"Resize reference if needed?\" Yes, --trust_ref_size) resamples the reference towards the first group's pixel size but keeps its box even, so it reaches box × p_ref / new box = \(r.referenceBox) × \(px(r.referencePixelSize)) / \(r.resampledBox). That becomes the pixel size of the whole refinement: every group's particles are rescaled to \(reached) Å/px and the output map's header says \(reached). Taken for a \(p1) Å/px map (to compare, subtract or fit a model in it, or as the next reference, which is resized again), its distances and resolutions are \(pct) % off. RELION 3.1 and 4 keep the reference and rescale the particles instead." + corrected
        var action: String
        let base = ((reference as NSString).lastPathComponent as NSString).deletingPathExtension
        if let e = r.exactBox {
            let padded = "\(base)_box\(e.box).mrc"
            action = "Refine against a reference at the first group's pixel size and box, which RELION 5 uses as it is: pad or crop \(reference) to \(e.box) px, whose resampling to \(p1) Å/px is exact (\(e.box) × \(px(r.referencePixelSize)) / \(p1) = \(e.resampledBox)), then rescale and window it: `angpix map rescale \(reference) --box \(e.box) -o \(padded)` and `angpix map rescale \(padded) --angpix \(p1) --box \(r.finalBox) -o \(base)_\(p1).mrc`."
            values["exactBox"] = Double(e.box)
        } else {
            action = "Refine against a reference at the first group's pixel size and box: `angpix map rescale \(reference) --angpix \(p1) --box \(r.finalBox) -o \(base)_\(p1).mrc` prints the pixel size it reaches; choose a box for which it is \(p1)."
        }
        action += " Do the same for the mask."
        return [Finding(.referenceResize, .warning, files: files, problem: problem, why: why, action: action,
                        values: values, relion: [.v5])]
    }

    static func referenceFindings31(reference: String, header: MRCHeader, particles: ParticleFileSummary,
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
