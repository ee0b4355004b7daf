// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// RELION 3.0 -> 3.1 conversion, as `relion_convert_star` does it (RELION 3.1
// src/star_converter.cpp): the per-particle optics columns (rlnVoltage, rlnSphericalAberration,
// rlnAmplitudeContrast, and rlnMagnification with rlnDetectorPixelSize, whose ratio ×10⁴ is the
// pixel size in Å) move to a new data_optics table with one group per distinct combination, in
// order of first appearance, named opticsGroupN; every row gets rlnOpticsGroup; rlnOriginX/Y (in
// pixels) become rlnOriginXAngst/YAngst (× pixel size), appended after rlnOpticsGroup. Particle
// files get rlnImagePixelSize, micrograph files rlnMicrographPixelSize and
// rlnMicrographOriginalPixelSize (both the same value, as relion_convert_star writes them).
// Optics values the file lacks can be given (voltage, Cs, Q0, pixel size); relion_convert_star
// writes an optics table without them, which relion_refine then refuses, so angpix asks for
// them and names every one that is missing. Better than RELION: the
// image size and dimensionality of each group are filled in from its stack's MRC header when the
// caller can read it (RELION leaves them out and asks the user to fix the paths).

import AngpixCore
import Foundation

/// Options of an upgrade.
public struct STARUpgradeOptions: Sendable {
    /// Voltage in kV for files without rlnVoltage.
    public var voltage: Double?
    /// Cs in mm for files without rlnSphericalAberration (RELION's --Cs).
    public var sphericalAberration: Double?
    /// Amplitude contrast for files without rlnAmplitudeContrast (RELION's --Q0).
    public var amplitudeContrast: Double?
    /// Pixel size in Å for files without rlnMagnification/rlnDetectorPixelSize.
    public var pixelSize: Double?
    public init(voltage: Double? = nil, sphericalAberration: Double? = nil, amplitudeContrast: Double? = nil, pixelSize: Double? = nil) {
        self.voltage = voltage
        self.sphericalAberration = sphericalAberration
        self.amplitudeContrast = amplitudeContrast
        self.pixelSize = pixelSize
    }
}

/// The size of the images in a stack, read by the caller (for example from an MRC header).
public struct StackImageInfo: Sendable, Equatable {
    public var size: Int
    public var dimensionality: Int
    public init(size: Int, dimensionality: Int) { self.size = size; self.dimensionality = dimensionality }
}

/// The upgraded document and what was done.
public struct STARUpgradeResult: Sendable {
    public var document: STARDocument
    public var optics: OpticsTable
    public var isParticleFile: Bool
    /// Per group: the stack whose header was looked up, and whether it was found.
    public var stacksLookedUp: [(group: Int, stack: String, found: Bool)]
    /// Whether rlnImageSize and rlnImageDimensionality were filled in.
    public var filledImageSize: Bool
    /// Stacks referenced as `N@name.mrc` (not .mrcs): read as stacks of 2D images; RELION wants
    /// such files named .mrcs.
    public var mrcStacks: [String] = []
}

/// RELION 3.0 -> 3.1 conversion (see the file header).
public enum STARUpgrade {
    public static func upgrade(_ document: STARDocument, file: String, options: STARUpgradeOptions = STARUpgradeOptions(),
                               imageInfo: (String) -> StackImageInfo? = { _ in nil }) throws -> STARUpgradeResult {
        if document.block("optics") != nil {
            throw STARError.invalid(file: file, line: nil, reason: "already a RELION 3.1 file (it has a data_optics table)")
        }
        switch STARFileKind(document) {
        case .tomography(let t):
            throw STARError.invalid(file: file, line: nil, reason: "a RELION tomography \(t.rawValue) file, not a RELION 3.0 file; there is nothing to upgrade")
        case .relionAuxiliary(let a):
            throw STARError.invalid(file: file, line: nil, reason: "a RELION \(a) file, not a RELION 3.0 particle or micrograph file")
        default: break
        }
        guard let table = document.blocks.first(where: { $0.isLoop && ($0.has("rlnImageName") || $0.has("rlnMicrographName")) }) else {
            throw STARError.invalid(file: file, line: nil, reason: "no RELION 3.0 particle or micrograph table (no rlnImageName or rlnMicrographName column)")
        }
        if table.rowCount == 0 {
            throw STARError.invalid(file: file, line: nil, reason: "data_\(table.name) has labels but no rows; nothing to convert")
        }
        if table.has("rlnOpticsGroup") {
            throw STARError.invalid(file: file, line: nil,
                reason: "data_\(table.name) already has rlnOpticsGroup: a RELION 3.1+ file whose optics table is missing or not named data_optics, not a RELION 3.0 file")
        }
        let isParticles = table.has("rlnImageName")
        let n = table.rowCount
        // Every optics value the file lacks and no option gives, reported at once.
        var missing: [String] = []
        func column(_ label: String, _ fallback: Double?, _ option: String) throws -> [Double] {
            if table.has(label) { return try table.doubles(label) }
            if let v = fallback { return [Double](repeating: v, count: n) }
            missing.append("_\(label) (give \(option))")
            return [Double](repeating: .nan, count: n)
        }
        let voltage = try column("rlnVoltage", options.voltage, "--voltage")
        let cs = try column("rlnSphericalAberration", options.sphericalAberration, "--cs")
        let q0 = try column("rlnAmplitudeContrast", options.amplitudeContrast, "--q0")
        var pixel: [Double] = [Double](repeating: .nan, count: n)
        let hasMag = table.has("rlnMagnification"), hasDet = table.has("rlnDetectorPixelSize")
        if hasMag && hasDet {
            let mag = try table.doubles("rlnMagnification"), det = try table.doubles("rlnDetectorPixelSize")
            pixel = (0..<n).map { det[$0] * 10000 / mag[$0] }
            if let bad = (0..<n).first(where: { mag[$0] <= 0 || !pixel[$0].isFinite }) {
                throw STARError.invalid(file: file, line: table.line(row: bad, "rlnMagnification"), reason: "rlnMagnification must be positive")
            }
        } else if let p = options.pixelSize {
            pixel = [Double](repeating: p, count: n)
        } else if hasMag || hasDet {
            missing.append("_\(hasMag ? "rlnDetectorPixelSize" : "rlnMagnification") (the pixel size is rlnDetectorPixelSize × 10⁴ / rlnMagnification and the file has only _\(hasMag ? "rlnMagnification" : "rlnDetectorPixelSize"); give the pixel size with --angpix)")
        } else {
            missing.append("_rlnMagnification and _rlnDetectorPixelSize (give the pixel size with --angpix)")
        }
        if !missing.isEmpty {
            throw STARError.invalid(file: file, line: nil,
                reason: "data_\(table.name) lacks optics values RELION needs in the optics table: \(missing.joined(separator: "; "))")
        }
        // Groups in order of first appearance.
        struct Key: Hashable { var v: Double; var cs: Double; var q0: Double; var px: Double }
        var groupOf: [Key: Int] = [:]
        var keys: [Key] = []
        var firstRow: [Int] = []
        var group = [Int](repeating: 0, count: n)
        for r in 0..<n {
            let k = Key(v: voltage[r], cs: cs[r], q0: q0[r], px: pixel[r])
            if let g = groupOf[k] { group[r] = g } else {
                keys.append(k); firstRow.append(r)
                groupOf[k] = keys.count
                group[r] = keys.count
            }
        }
        // Image sizes from the stacks, where the caller can read them.
        var looked: [(group: Int, stack: String, found: Bool)] = []
        var infos: [StackImageInfo?] = []
        var mrcStacks: [String] = []
        if isParticles {
            for (g, r) in firstRow.enumerated() {
                let name = table.string(row: r, "rlnImageName") ?? ""
                let reference = ImageName(name)
                let stack = reference?.stackPath ?? name
                var info = imageInfo(stack)
                // `N@file` is image N of a stack of 2D images, whatever the extension (cryoDRGN's
                // EMPIAR subsets reference .mrc stacks this way); the header's depth is the
                // number of images, not a box size.
                if reference != nil, let i = info {
                    info = StackImageInfo(size: i.size, dimensionality: 2)
                    if !stack.hasSuffix(".mrcs") && !mrcStacks.contains(stack) { mrcStacks.append(stack) }
                }
                looked.append((g + 1, stack, info != nil))
                infos.append(info)
            }
        }
        let filled = isParticles && !infos.isEmpty && infos.allSatisfy { $0 != nil }
        var labels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
                      isParticles ? "rlnImagePixelSize" : "rlnMicrographPixelSize"]
        if !isParticles { labels.append("rlnMicrographOriginalPixelSize") }
        if filled { labels += ["rlnImageSize", "rlnImageDimensionality"] }
        var rows: [[String]] = []
        var groups: [OpticsGroup] = []
        for (g, k) in keys.enumerated() {
            var row = [String(g + 1), "opticsGroup\(g + 1)", formatRelionNumber(k.q0), formatRelionNumber(k.cs), formatRelionNumber(k.v), formatRelionNumber(k.px)]
            if !isParticles { row.append(formatRelionNumber(k.px)) }
            if filled, let info = infos[g] { row += [String(info.size), String(info.dimensionality)] }
            rows.append(row)
            groups.append(OpticsGroup(number: g + 1, name: "opticsGroup\(g + 1)", imagePixelSize: k.px,
                                      imageSize: filled ? infos[g]!.size : 0,
                                      imageDimensionality: filled ? infos[g]!.dimensionality : 2,
                                      voltage: k.v, sphericalAberration: k.cs, amplitudeContrast: k.q0,
                                      micrographOriginalPixelSize: isParticles ? nil : k.px,
                                      micrographPixelSize: isParticles ? nil : k.px))
        }
        let optics = STARBlock(name: "optics", labels: labels, rows: rows)
        // The particle (micrograph) table.
        let out = table.copy()
        out.name = isParticles ? "particles" : "micrographs"
        for l in ["rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast", "rlnMagnification", "rlnDetectorPixelSize"] {
            out.removeColumn(l)
        }
        out.setColumn("rlnOpticsGroup", group.map(String.init))
        for axis in ["X", "Y", "Z"] where out.has("rlnOrigin\(axis)") {
            let px = try table.doubles("rlnOrigin\(axis)")
            out.removeColumn("rlnOrigin\(axis)")
            out.setColumn("rlnOrigin\(axis)Angst", (0..<n).map { formatRelionNumber(px[$0] * pixel[$0]) })
        }
        for axis in ["X", "Y", "Z"] where out.has("rlnOrigin\(axis)Prior") {
            let px = try table.doubles("rlnOrigin\(axis)Prior")
            out.removeColumn("rlnOrigin\(axis)Prior")
            out.setColumn("rlnOrigin\(axis)PriorAngst", (0..<n).map { formatRelionNumber(px[$0] * pixel[$0]) })
        }
        out.triviaRange = nil
        out.touch()
        return STARUpgradeResult(document: STARDocument(blocks: [optics, out]), optics: OpticsTable(groups: groups),
                                 isParticleFile: isParticles, stacksLookedUp: looked, filledImageSize: filled, mrcStacks: mrcStacks)
    }
}
