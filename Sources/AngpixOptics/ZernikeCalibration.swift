// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The absolute pixel size from the Z40 aberration fitted by CtfRefine and a trusted Cs
// (reference text, "How can I estimate the absolute pixel size of a map?"):
//
//   the spherical-aberration phase is π/2 · Cs · λ³ · k⁴ and Z40 = 6k⁴ − 6k² + 1, so a Z40
//   coefficient c (the 7th rlnEvenZernike number) changes the apparent Cs by 12 c / (π λ³) Å:
//     Cs_apparent = Cs_nominal + 12 · Z40 · 10⁻⁷ / (π λ³)   (mm)
//   and, since a pixel-size error s scales the k⁴ term by s⁴ (see PixelSizeErrorSimulation),
//     true pixel size = nominal pixel size × (Cs_true / Cs_apparent)^(1/4).
// This holds only if Cs_true and the voltage (through λ) are right.

import AngpixCore
import Foundation

/// One optics group's calibration from its Z40 coefficient.
public struct ZernikeCalibration: Sendable, Codable, Equatable {
    public var opticsGroup: Int
    public var name: String
    /// The nominal pixel size (rlnImagePixelSize), Å.
    public var nominalPixelSize: Double
    public var voltage: Double
    /// rlnSphericalAberration (what CTFFIND used), mm.
    public var csNominal: Double
    /// The trusted Cs, mm.
    public var csTrue: Double
    /// The 7th rlnEvenZernike coefficient (radians per Å⁴… as RELION stores it).
    public var z40: Double?
    public var csApparent: Double?
    public var truePixelSize: Double?
    /// (nominal − true) / true: how far off the nominal pixel size is.
    public var relativeError: Double?
    /// Why no number could be given for this group, if so.
    public var problem: String?

    /// Cs_apparent in mm for a Z40 coefficient at a voltage.
    public static func apparentCs(csNominal: Double, z40: Double, voltage: Double) -> Double {
        let lambda = electronWavelength(kilovolts: voltage)
        return csNominal + 12 * z40 * 1e-7 / (Double.pi * lambda * lambda * lambda)
    }

    /// The Z40 coefficient that makes the apparent Cs equal `csApparent` (the inverse of `apparentCs`).
    public static func z40(csNominal: Double, csApparent: Double, voltage: Double) -> Double {
        let lambda = electronWavelength(kilovolts: voltage)
        return (csApparent - csNominal) * 1e7 * Double.pi * lambda * lambda * lambda / 12
    }

    /// Calibrates one group. `evenZernike` nil means the group has no rlnEvenZernike.
    /// Throws for impossible inputs (non-positive pixel size, voltage or Cs_true); a group whose
    /// Zernike terms are missing or too few, or whose apparent Cs is not positive, gets a `problem`.
    public static func calibrate(opticsGroup: Int, name: String, nominalPixelSize: Double, voltage: Double,
                                 csNominal: Double, evenZernike: [Double]?, csTrue: Double,
                                 file: String = "<input>") throws -> ZernikeCalibration {
        guard csTrue.isFinite, csTrue > 0 else {
            throw OpticsError.invalidParameter("Cs_true", csTrue, "must be positive (mm); Z40 cannot calibrate a Cs-corrected microscope")
        }
        guard nominalPixelSize.isFinite, nominalPixelSize > 0 else {
            throw OpticsError.group(file: file, group: opticsGroup, reason: "rlnImagePixelSize = \(formatSignificant(nominalPixelSize)) is not positive")
        }
        guard voltage.isFinite, voltage > 0 else {
            throw OpticsError.group(file: file, group: opticsGroup, reason: "rlnVoltage = \(formatSignificant(voltage)) is not positive")
        }
        guard csNominal.isFinite, csNominal > 0 else {
            throw OpticsError.group(file: file, group: opticsGroup, reason: "rlnSphericalAberration = \(formatSignificant(csNominal)): a Cs of 0 or less cannot be calibrated from Z40")
        }
        var out = ZernikeCalibration(opticsGroup: opticsGroup, name: name, nominalPixelSize: nominalPixelSize,
                                     voltage: voltage, csNominal: csNominal, csTrue: csTrue)
        guard let even = evenZernike else {
            out.problem = "no rlnEvenZernike: run CtfRefine with \"Estimate 4th order aberrations\" first"
            return out
        }
        guard even.count > Zernike.z40Index else {
            out.problem = "rlnEvenZernike has \(even.count) coefficients; Z40 is the 7th"
            return out
        }
        let z40 = even[Zernike.z40Index]
        guard z40.isFinite else { out.problem = "Z40 is not a finite number"; return out }
        out.z40 = z40
        let apparent = apparentCs(csNominal: csNominal, z40: z40, voltage: voltage)
        out.csApparent = apparent
        guard apparent > 0 else {
            out.problem = "the apparent Cs \(formatSignificant(apparent)) mm is not positive; Z40 cannot be explained by a pixel-size error"
            return out
        }
        let truePx = nominalPixelSize * pow(csTrue / apparent, 0.25)
        out.truePixelSize = truePx
        out.relativeError = (nominalPixelSize - truePx) / truePx
        return out
    }

    init(opticsGroup: Int, name: String, nominalPixelSize: Double, voltage: Double, csNominal: Double, csTrue: Double) {
        self.opticsGroup = opticsGroup
        self.name = name
        self.nominalPixelSize = nominalPixelSize
        self.voltage = voltage
        self.csNominal = csNominal
        self.csTrue = csTrue
    }
}
