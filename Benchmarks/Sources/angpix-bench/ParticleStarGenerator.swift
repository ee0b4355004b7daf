// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A realistic RELION 3.1 particle STAR file of any size, made in Swift with a fixed seed: the
// benchmark's input (1,000,000 particles, 26 columns, about 400 MB). The layout is what
// relion_refine writes: `# version 30001`, a data_optics loop of two groups (1.00 and 1.05 Å,
// 256 px), then data_particles with coordinates, angles, defocus, origins in Å and 200 particles
// per micrograph, every number right-aligned in 12 characters as RELION prints them.

import AngpixCore
import Foundation

/// Writes the benchmark's particle file: deterministic for a given seed, streamed in 4 MB pieces.
struct ParticleStarGenerator {
    var particles: Int
    var opticsGroups = 2
    var seed: UInt64 = 1
    var particlesPerMicrograph = 200

    static let particleLabels = [
        "rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi",
        "rlnImageName", "rlnMicrographName", "rlnOpticsGroup", "rlnCtfMaxResolution", "rlnCtfFigureOfMerit",
        "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnCtfBfactor", "rlnCtfScalefactor", "rlnPhaseShift",
        "rlnGroupNumber", "rlnAngleRot", "rlnAngleTilt", "rlnOriginXAngst", "rlnOriginYAngst", "rlnNormCorrection",
        "rlnLogLikeliContribution", "rlnMaxValueProbDistribution", "rlnNrOfSignificantSamples", "rlnRandomSubset",
    ]

    func write(to path: String) throws {
        var out = ByteText()
        out.append("\n# version 30001\n\ndata_optics\n\nloop_ \n")
        let opticsLabels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                            "rlnVoltage", "rlnImagePixelSize", "rlnMicrographOriginalPixelSize", "rlnImageSize",
                            "rlnImageDimensionality"]
        for (i, label) in opticsLabels.enumerated() { out.append("_\(label) #\(i + 1) \n") }
        for g in 0..<opticsGroups {
            let pixel = 1.0 + 0.05 * Double(g)
            out.integer(g + 1); out.append(" opticsGroup\(g + 1) ")
            for v in [0.1, 2.7, 300.0, pixel, pixel / 2] { out.fixed(v); out.space() }
            out.integer(256); out.space(); out.integer(2); out.append(" \n")
        }
        out.append(" \n\n# version 30001\n\ndata_particles\n\nloop_ \n")
        for (i, label) in Self.particleLabels.enumerated() { out.append("_\(label) #\(i + 1) \n") }

        let handle = try AtomicFileWriter(destination: path, policy: OutputPolicy(overwrite: true))
        var rng = SplitMix64(seed: seed)
        for index in 0..<particles {
            let micrograph = index / particlesPerMicrograph + 1
            let slot = index % particlesPerMicrograph + 1
            let group = micrograph % opticsGroups + 1
            let defocusU = rng.uniform(5000, 25000)
            out.fixed(rng.uniform(0, 4096)); out.space()
            out.fixed(rng.uniform(0, 4096)); out.space()
            out.fixed(2 + rng.gaussian()); out.space()
            out.integer(Int(rng.next() % 3) + 1); out.space()
            out.fixed(rng.uniform(-180, 180)); out.space()
            out.zeroPadded(slot, digits: 6); out.append("@Extract/job007/Movies/mic_")
            out.zeroPadded(micrograph, digits: 6); out.append(".mrcs MotionCorr/job002/Movies/mic_")
            out.zeroPadded(micrograph, digits: 6); out.append(".mrc ")
            out.integer(group); out.space()
            out.fixed(rng.uniform(2.5, 6)); out.space()
            out.fixed(rng.uniform(0.05, 0.3)); out.space()
            out.fixed(defocusU); out.space()
            out.fixed(defocusU - rng.uniform(0, 500)); out.space()
            out.fixed(rng.uniform(-90, 90)); out.space()
            out.fixed(0); out.space(); out.fixed(1); out.space(); out.fixed(0); out.space()
            out.integer(group); out.space()
            out.fixed(rng.uniform(-180, 180)); out.space()
            out.fixed(rng.uniform(0, 180)); out.space()
            out.fixed(2 * rng.gaussian()); out.space()
            out.fixed(2 * rng.gaussian()); out.space()
            out.fixed(0.6 + 0.05 * rng.gaussian()); out.space()
            out.scientific(1.2e5 + 1e3 * rng.gaussian()); out.space()
            out.fixed(rng.unit()); out.space()
            out.integer(Int(rng.next() % 499) + 1); out.space()
            out.integer(index % 2 + 1); out.append(" \n")
            if out.bytes.count > 4 << 20 { try handle.write(out.bytes); out.bytes.removeAll(keepingCapacity: true) }
        }
        out.append(" \n")
        try handle.write(out.bytes)
        try handle.commit()
    }
}

/// A byte buffer with RELION's number layouts (`%12.6f`, `%12d`, `%12.6e`), without String(format:).
struct ByteText {
    var bytes: [UInt8] = []

    mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func space() { bytes.append(0x20) }

    /// `value` right-aligned in `width` characters (a minus sign for negatives).
    mutating func integer(_ value: Int, width: Int = 12) {
        var digits: [UInt8] = []
        var v = value.magnitude
        repeat { digits.append(UInt8(v % 10) + 0x30); v /= 10 } while v > 0
        if value < 0 { digits.append(0x2D) }
        if digits.count < width { bytes.append(contentsOf: repeatElement(0x20, count: width - digits.count)) }
        bytes.append(contentsOf: digits.reversed())
    }

    /// `value` with leading zeros to `digits` digits (`%06d`).
    mutating func zeroPadded(_ value: Int, digits: Int) {
        let text = String(value)
        if text.count < digits { bytes.append(contentsOf: repeatElement(0x30, count: digits - text.count)) }
        append(text)
    }

    /// `%12.6f`: six decimals, rounded half away from zero, right-aligned in 12 characters.
    mutating func fixed(_ value: Double, width: Int = 12) {
        let scaled = (abs(value) * 1e6).rounded()
        let whole = Int(scaled / 1e6), fraction = Int(scaled - Double(whole) * 1e6)
        var text: [UInt8] = []
        var w = whole
        repeat { text.append(UInt8(w % 10) + 0x30); w /= 10 } while w > 0
        if value < 0 && scaled > 0 { text.append(0x2D) }
        text.reverse()
        text.append(0x2E)
        var f = fraction, decimals = [UInt8](repeating: 0x30, count: 6)
        for i in stride(from: 5, through: 0, by: -1) { decimals[i] = UInt8(f % 10) + 0x30; f /= 10 }
        text.append(contentsOf: decimals)
        if text.count < width { bytes.append(contentsOf: repeatElement(0x20, count: width - text.count)) }
        bytes.append(contentsOf: text)
    }

    /// `%12.6e` for a positive value (`1.203456e+05`).
    mutating func scientific(_ value: Double) {
        var exponent = Int(log10(value).rounded(.down))
        var mantissa = (value / pow(10, Double(exponent)) * 1e6).rounded()
        if mantissa >= 1e7 { mantissa /= 10; exponent += 1 }
        let m = Int(mantissa)
        append(String(m / 1_000_000)); bytes.append(0x2E)
        zeroPadded(m % 1_000_000, digits: 6)
        append(exponent < 0 ? "e-" : "e+")
        zeroPadded(abs(exponent), digits: 2)
    }
}
