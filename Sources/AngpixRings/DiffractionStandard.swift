// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Diffraction standards as data: the lattice spacings whose rings appear in the power spectrum of
// an image of the standard. Sources (see also docs/calibrate-rings.md):
//   gold: face-centred cubic, a = 4.0782 Å at room temperature (the lattice constant of the
//     elements tables, e.g. CRC Handbook of Chemistry and Physics, "Crystal structures and lattice
//     parameters of allotropes of the elements"; W. P. Davey, Phys. Rev. 25, 753 (1925)). An fcc
//     lattice reflects only when h, k, l are all odd or all even: d = a / √(h² + k² + l²), so
//     (111) 2.3546 Å, (200) 2.0391 Å, (220) 1.4419 Å, (311) 1.2296 Å, (222) 1.1773 Å.
//     Gold contracts by about 0.3 % between room temperature and 80 K; the room-temperature value
//     is the default (a standard at cryo temperature can be given as a spacing).
//   graphene (and graphite's in-plane lattice): hexagonal, a = 2.46 Å (graphite a = 2.461 Å,
//     Trucano & Chen, Nature 258, 136 (1975)); d(hk) = (√3/2) a / √(h² + hk + k²):
//     (100) 2.1304 Å, (110) 1.2300 Å, (200) 1.0652 Å, (210) 0.8052 Å.
//   ice: 3.661 Å, the (002) spacing c/2 of hexagonal ice Ih (c ≈ 7.32 Å near 100 K, Röttger et
//     al., Acta Cryst. B50, 644 (1994)), which coincides within 0.3 % with the (111) spacing
//     3.67 Å of cubic ice Ic (a ≈ 6.36 Å); hexagonal ice's (100) ring at 3.90 Å and (101) at
//     3.44 Å are not used (they are absent from cubic ice and ice is often a mixture).
// Weights: the relative ring intensities expected for randomly oriented crystallites (multiplicity
// × |F|² with the fcc/hexagonal structure factor; atomic form factors and envelopes not included);
// they only order the rings and decide which are expected to be strong; the fit itself weights
// every sector by its measured uncertainty.

import Foundation

/// One ring of a standard: a lattice spacing and its name.
public struct StandardRing: Sendable, Codable, Equatable {
    /// Miller indices or a label, e.g. "(111)".
    public var label: String
    /// The lattice spacing d in Å (the ring lies at 1/d Å⁻¹).
    public var spacing: Double
    /// The relative intensity expected (multiplicity × |F|², largest ring = 1), see the file header.
    public var relativeIntensity: Double

    public init(label: String, spacing: Double, relativeIntensity: Double = 1) {
        self.label = label; self.spacing = spacing; self.relativeIntensity = relativeIntensity
    }
}

/// A diffraction standard: a name and its rings (strongest first).
public struct DiffractionStandard: Sendable, Codable, Equatable {
    public var name: String
    public var rings: [StandardRing]

    public init(name: String, rings: [StandardRing]) {
        self.name = name; self.rings = rings
    }

    /// Gold's fcc lattice constant at room temperature, Å.
    public static let goldLatticeConstant = 4.0782
    /// Graphene's (graphite's in-plane) lattice constant, Å.
    public static let grapheneLatticeConstant = 2.46
    /// The (002) spacing of hexagonal ice / (111) of cubic ice, Å.
    public static let iceSpacing = 3.661

    /// Polycrystalline gold (fcc, a = 4.0782 Å): (111), (200), (220), (311), (222).
    public static var gold: DiffractionStandard {
        let a = goldLatticeConstant
        // (hkl, multiplicity); all |F|² = 16 f² for allowed fcc reflections.
        let reflections: [([Int], Double)] = [([1, 1, 1], 8), ([2, 0, 0], 6), ([2, 2, 0], 12), ([3, 1, 1], 24), ([2, 2, 2], 8)]
        let top = 8.0
        return DiffractionStandard(name: "gold", rings: reflections.map { hkl, m in
            let s = Double(hkl.map { $0 * $0 }.reduce(0, +)).squareRoot()
            return StandardRing(label: "(\(hkl.map(String.init).joined()))", spacing: a / s, relativeIntensity: m / top)
        })
    }

    /// Graphene (hexagonal, a = 2.46 Å): (100), (110), (200), (210).
    public static var graphene: DiffractionStandard {
        let a = grapheneLatticeConstant
        let reflections: [([Int], Double)] = [([1, 0], 6), ([1, 1], 6), ([2, 0], 6), ([2, 1], 12)]
        return DiffractionStandard(name: "graphene", rings: reflections.map { hk, m in
            let h = Double(hk[0]), k = Double(hk[1])
            let d = 3.0.squareRoot() / 2 * a / (h * h + h * k + k * k).squareRoot()
            return StandardRing(label: "(\(hk[0])\(hk[1])0)", spacing: d, relativeIntensity: m / 6)
        })
    }

    /// Crystalline ice: the 3.661 Å ring (hexagonal (002) / cubic (111)).
    public static var ice: DiffractionStandard {
        DiffractionStandard(name: "ice", rings: [StandardRing(label: "Ih(002)/Ic(111)", spacing: iceSpacing)])
    }

    /// A single ring of the given spacing (Å).
    public static func spacing(_ d: Double) -> DiffractionStandard {
        DiffractionStandard(name: String(format: "%.4g Å spacing", d), rings: [StandardRing(label: String(format: "%.4g Å", d), spacing: d)])
    }

    /// The standard named on the command line: gold, graphene, ice or a spacing in Å.
    public static func named(_ text: String) throws -> DiffractionStandard {
        switch text.lowercased() {
        case "gold", "au": return gold
        case "graphene", "graphite": return graphene
        case "ice": return ice
        default:
            let t = text.hasSuffix("Å") ? String(text.dropLast()) : (text.lowercased().hasSuffix("a") ? String(text.dropLast()) : text)
            guard let d = Double(t.trimmingCharacters(in: .whitespaces)), d.isFinite, d > 0 else {
                throw RingsError.unknownStandard(text)
            }
            guard d >= 0.5, d <= 100 else {
                throw RingsError.invalidOption("--standard \(text): a lattice spacing must lie between 0.5 and 100 Å")
            }
            return spacing(d)
        }
    }
}
