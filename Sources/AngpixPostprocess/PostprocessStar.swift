// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// postprocess.star as relion_postprocess 3.1 writes it (src/postprocessing.cpp writeOutput):
//   data_general  key-value block: rlnFinalResolution, rlnBfactorUsedForSharpening,
//                 rlnUnfilteredMapHalf1/2, and with a mask rlnParticleBoxFractionSolventMask,
//                 rlnMaskName, rlnRandomiseFrom; with --auto_bfac rlnFittedSlopeGuinierPlot,
//                 rlnFittedInterceptGuinierPlot, rlnCorrelationFitGuinierPlot.
//   data_fsc      rlnSpectralIndex, rlnResolution (1/Å), rlnAngstromResolution (999 for shell 0),
//                 then with a mask the five FSC columns rlnFourierShellCorrelationCorrected,
//                 rlnFourierShellCorrelationParticleMaskFraction, rlnFourierShellCorrelationUnmaskedMaps,
//                 rlnFourierShellCorrelationMaskedMaps, rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps;
//                 without a mask only rlnFourierShellCorrelationUnmaskedMaps.
//   data_guinier  rlnResolutionSquared, rlnLogAmplitudesOriginal, rlnLogAmplitudesWeighted,
//                 rlnLogAmplitudesSharpened (if a B-factor was used), rlnLogAmplitudesIntercept (if fitted).
// Also postprocess_fsc.xml, the corrected FSC for EMDB deposition (RELION's writeFscXml).

import Foundation
import AngpixCore

/// A value for a STAR file: quoted if it is empty or contains white space.
func starString(_ s: String) -> String {
    if s.isEmpty { return "\"\"" }
    if s.contains(where: { $0 == " " || $0 == "\t" }) { return "\"\(s)\"" }
    return s
}

/// The names RELION records for the inputs (as given on its command line).
public struct PostprocessInputNames: Sendable {
    public var half1: String
    public var half2: String
    public var mask: String?
    public init(half1: String, half2: String, mask: String?) {
        self.half1 = half1; self.half2 = half2; self.mask = mask
    }
}

extension PostprocessResult {
    /// The text of postprocess.star (RELION 3.1 layout and labels).
    public func starText(inputs: PostprocessInputNames, commandLine: String) -> String {
        var o = "# angpix postprocess (RELION 3.1 postprocess.star layout)\n# \(commandLine)\n\n"
        o += "# version 30001\n\ndata_general\n\n"
        var pairs: [(String, String)] = [
            ("rlnFinalResolution", formatRelionNumber(finalResolutionShell > 0 ? finalResolution : 999, width: 12)),
            ("rlnBfactorUsedForSharpening", formatRelionNumber(bFactor, width: 12)),
            ("rlnUnfilteredMapHalf1", starString(inputs.half1)),
            ("rlnUnfilteredMapHalf2", starString(inputs.half2)),
        ]
        if let mask = inputs.mask, let shell = randomiseFromShell {
            pairs.append(("rlnParticleBoxFractionSolventMask", formatRelionNumber(solventMaskFraction ?? 0, width: 12)))
            pairs.append(("rlnMaskName", starString(mask)))
            pairs.append(("rlnRandomiseFrom", formatRelionNumber(Double(size) * pixelSize / Double(shell), width: 12)))
        }
        if let fit {
            pairs.append(("rlnFittedSlopeGuinierPlot", formatRelionNumber(fit.slope, width: 12)))
            pairs.append(("rlnFittedInterceptGuinierPlot", formatRelionNumber(fit.intercept, width: 12)))
            pairs.append(("rlnCorrelationFitGuinierPlot", formatRelionNumber(fit.correlation, width: 12)))
        }
        for (k, v) in pairs { o += "_\(k.padding(toLength: 40, withPad: " ", startingAt: 0)) \(v)\n" }
        o += "\n\n# version 30001\n\ndata_fsc\n\nloop_\n"
        var labels = ["rlnSpectralIndex", "rlnResolution", "rlnAngstromResolution"]
        let masked = fscMasked != nil
        if masked {
            labels += ["rlnFourierShellCorrelationCorrected", "rlnFourierShellCorrelationParticleMaskFraction",
                       "rlnFourierShellCorrelationUnmaskedMaps", "rlnFourierShellCorrelationMaskedMaps",
                       "rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps"]
        } else {
            labels += ["rlnFourierShellCorrelationUnmaskedMaps"]
        }
        for (i, l) in labels.enumerated() { o += "_\(l) #\(i + 1) \n" }
        for i in 0..<fscCorrected.count {
            let d = resolution(shell: i)
            var row = [String(format: "%12d", i), formatRelionNumber(1 / d, width: 12), formatRelionNumber(d, width: 12)]
            if masked {
                row += [fscCorrected[i], fscParticleMaskFraction?[i] ?? 0, fscUnmasked[i],
                        fscMasked?[i] ?? 0, fscRandomMasked?[i] ?? 0].map { formatRelionNumber($0, width: 12) }
            } else {
                row.append(formatRelionNumber(fscCorrected[i], width: 12))
            }
            o += row.joined(separator: " ") + " \n"
        }
        o += " \n\n# version 30001\n\ndata_guinier\n\nloop_\n"
        var glabels = ["rlnResolutionSquared", "rlnLogAmplitudesOriginal", "rlnLogAmplitudesWeighted"]
        if bFactor != 0 || fit != nil { glabels.append("rlnLogAmplitudesSharpened") }
        if fit != nil { glabels.append("rlnLogAmplitudesIntercept") }
        for (i, l) in glabels.enumerated() { o += "_\(l) #\(i + 1) \n" }
        for g in guinier {
            var row = [g.resolutionSquared, g.original, g.weighted]
            if bFactor != 0 || fit != nil { row.append(g.sharpened) }
            if let fit { row.append(fit.intercept) }
            o += row.map { formatRelionNumber($0, width: 12) }.joined(separator: " ") + " \n"
        }
        o += " \n"
        return o
    }

    /// The corrected FSC as the XML file EMDB takes (RELION's postprocess_fsc.xml).
    public func fscXML() -> String {
        var o = "<fsc title=\"RELION masked-corrected FSC\" xaxis=\"Resolution (A-1)\" yaxis=\"Correlation Coefficient\">\n"
        for i in 0..<fscCorrected.count {
            o += "  <coordinate>\n    <x>\(formatSignificant(1 / resolution(shell: i)))</x>\n    <y>\(formatSignificant(fscCorrected[i]))</y>\n  </coordinate>\n"
        }
        return o + "</fsc>\n"
    }
}
