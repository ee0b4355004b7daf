// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What CtfRefine's results in data_optics say about the pixel size (reference text: "How can I
// estimate the absolute pixel size of a map?" and "Multiple optics groups"): a large Z40 (the 7th
// rlnEvenZernike coefficient) is a Cs error that a pixel-size error explains, and a rlnMagMat
// scale far from 1 is a group whose particles do not match the reconstruction's scale. The
// numbers come from the Optics module (ZernikeCalibration, OpticsTrace); this file only decides
// when they are worth a finding and words it.

import AngpixCore
import Foundation
import AngpixSTAR
import AngpixOptics

enum OpticsImplications {
    /// A pixel size implied by Z40 or rlnMagMat is reported when it is this far (relative) from the nominal one.
    static let threshold = 0.005

    /// Findings for every group; `referencePixelSize` is the reference's header pixel size when
    /// known (else the first group's nominal pixel size, what a correct reference has).
    static func findings(_ s: ParticleFileSummary, referencePixelSize: Double?) -> [Finding] {
        z40(s) + magnification(s, referencePixelSize: referencePixelSize)
    }

    static func z40(_ s: ParticleFileSummary) -> [Finding] {
        var out: [Finding] = []
        for g in s.groups where g.evenZernike.count > Zernike.z40Index {
            // Trust the declared Cs and voltage: that is the reference text's method.
            guard g.sphericalAberration > 0, g.voltage > 0, g.imagePixelSize > 0,
                  let c = try? ZernikeCalibration.calibrate(opticsGroup: g.number, name: g.name, nominalPixelSize: g.imagePixelSize,
                                                            voltage: g.voltage, csNominal: g.sphericalAberration,
                                                            evenZernike: g.evenZernike, csTrue: g.sphericalAberration, file: s.file),
                  let z = c.z40, let apparent = c.csApparent else { continue }
            guard let truePx = c.truePixelSize, let rel = c.relativeError else {
                out.append(Finding(.largeZ40, .warning, files: [s.file],
                    problem: "optics group \(g.number) (\(g.name)): Z40 = \(formatSignificant(z, digits: 4)) makes the apparent Cs \(formatFixed(apparent, decimals: 3)) mm, which no pixel size explains",
                    why: c.problem ?? "A non-positive apparent Cs cannot come from a pixel-size error.",
                    action: "Check rlnSphericalAberration and rlnVoltage; refine the 4th-order aberrations again in CtfRefine.",
                    values: ["z40": z, "csApparent": apparent]))
                continue
            }
            guard abs(rel) > threshold else { continue }
            out.append(Finding(.largeZ40, .warning, files: [s.file],
                problem: "optics group \(g.number) (\(g.name)): Z40 = \(formatSignificant(z, digits: 4)) (7th rlnEvenZernike) makes the apparent Cs \(formatFixed(apparent, decimals: 3)) mm instead of \(formatFixed(g.sphericalAberration, decimals: 3)) mm; "
                    + "if Cs \(formatFixed(g.sphericalAberration, decimals: 3)) mm and \(formatFixed(g.voltage, decimals: 0)) kV are right, the true pixel size is \(px(truePx)) Å/px, not \(px(g.imagePixelSize)) (\(formatFixed(100 * abs(rel), decimals: 1)) % off)",
                why: "CtfRefine has absorbed a pixel-size error into the 4th-order aberration (Cs_apparent = Cs + 12·Z40·10⁻⁷/(πλ³); true pixel size = nominal × (Cs_true/Cs_apparent)^¼). The CTF is now consistent at the nominal pixel size, but maps and resolutions in nominal Å are \(formatFixed(100 * abs(rel), decimals: 1)) % \(rel > 0 ? "too large" : "too small").",
                action: "Do not edit rlnImagePixelSize. Give \(px(truePx)) Å/px to PostProcess (`angpix calibrate zernike \(s.file) --cs-true \(formatFixed(g.sphericalAberration, decimals: 1))` shows the calculation), and confirm it against an atomic model (`angpix calibrate model`), since it is only as good as Cs and the voltage.",
                values: ["z40": z, "csApparent": apparent, "truePixelSize": truePx, "nominalPixelSize": g.imagePixelSize]))
        }
        return out
    }

    static func magnification(_ s: ParticleFileSummary, referencePixelSize: Double?) -> [Finding] {
        let withMatrix = s.groups.filter { $0.magMatrix != nil }
        guard !withMatrix.isEmpty, let first = s.groups.first else { return [] }
        let h = referencePixelSize.flatMap { $0 > 0 ? $0 : nil } ?? first.imagePixelSize
        // The implied pixel sizes assume the reconstruction's header pixel size is its true one.
        guard let trace = try? OpticsTrace.trace(groups: s.groups.map(TraceGroupInput.init), referencePixelSize: h,
                                                 anchor: .map(h), file: s.file) else { return [] }
        var out: [Finding] = []
        for t in trace.groups where t.magMatrix != nil && abs(t.magnification - 1) > threshold {
            let implied = t.truePixelSize ?? t.naivePixelSize
            let larger = t.magnification > 1
            var problem = "optics group \(t.opticsGroup) (\(t.name)): rlnMagMat scale \(formatFixed(t.magnification, decimals: 4))"
            if t.anisotropy > 1.001 { problem += " (anisotropy \(formatFixed(t.anisotropy, decimals: 4)))" }
            problem += ": its particles look \(formatFixed(100 * abs(t.magnification - 1), decimals: 1)) % \(larger ? "larger" : "smaller") than the reconstruction expects; "
            problem += "if the reconstruction's header pixel size \(px(h)) Å/px is right, this group's true pixel size is \(px(implied)) Å/px, not \(px(t.nominalPixelSize))"
            out.append(Finding(.magnificationScale, .warning, files: [s.file],
                problem: problem,
                why: "relion_refine first rescales each group from its nominal pixel size to the reference's (\(px(h)) Å/px), then CtfRefine's magnification matrix corrects the rest. The matrix gives relative sizes only: \(px(t.nominalPixelSize)) / \(formatFixed(t.magnification, decimals: 4)) = \(px(t.naivePixelSize)) Å/px is right only if the reconstruction is truly at \(px(h)) Å/px.",
                action: "Trust one absolute value and trace all groups: `angpix optics trace \(s.file) --reference-angpix \(px(h)) --trusted-group G=PX` (a group calibrated against a standard) or `--trusted-map PX` (the map calibrated against a model). Keep rlnImagePixelSize as it is.",
                values: ["magnification": t.magnification, "impliedPixelSize": implied, "nominalPixelSize": t.nominalPixelSize, "referencePixelSize": h]))
        }
        return out
    }
}
