// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Checks of a particle STAR file on its own (RELION 3.1 conventions, src/metadata_label.h):
// optics groups that share a name but not their optics, particles pointing to a missing optics
// group, RELION 3.0 columns left in a 3.1 file (rlnMagnification, rlnDetectorPixelSize,
// rlnOriginX/Y in pixels), rlnMtfFileName without rlnMicrographOriginalPixelSize, and what CtfRefine
// found: a large Z40 (the 7th rlnEvenZernike coefficient) or a rlnMagMat scale far from 1, with the
// pixel size they imply (computed by the Optics module).

import Foundation
import AngpixCore
import AngpixSTAR

/// A particle file as the checks see it.
struct ParticleFileSummary {
    var file: String
    /// True for a RELION 3.0 file (no data_optics): its groups are made from the distinct pixel
    /// sizes rlnDetectorPixelSize × 10⁴ / rlnMagnification.
    var isRelion30: Bool
    var groups: [OpticsGroup]
    var particles: STARBlock
    var opticsBlock: STARBlock?
    /// For each particle, the index in `groups` of its optics group, or -1 when the group is missing.
    var particleGroup: [Int]
    /// Particles per group number that the optics table lacks.
    var missingGroups: [Int: (count: Int, firstLine: Int?)]
    /// Particles per index of `groups`.
    var counts: [Int]
    /// True for RELION 4/5 tomography particles without a data_optics table (their pixel sizes
    /// are in the tomograms' STAR file, which the checks do not read).
    var tomographyWithoutOptics = false
    /// Values of the optics table that RELION would refuse (not numbers, pixel sizes ≤ 0, …), each
    /// with its file and line; the checks report them instead of stopping at the first.
    var opticsProblems: [String] = []

    var checkedLine: String {
        let noun = particles.name == "micrographs" ? "micrograph" : particles.name == "movies" ? "movie" : "particle"
        let particlesText = "\(file): \(particles.rowCount) \(noun)\(particles.rowCount == 1 ? "" : "s")"
        if tomographyWithoutOptics {
            return "\(particlesText), RELION tomography particles without an optics table (their pixel sizes are in the tomograms' STAR file)"
        }
        if isRelion30 {
            if groups.isEmpty {
                return "\(particlesText), RELION 3.0 file (no optics table) without rlnMagnification/rlnDetectorPixelSize: pixel size unknown"
            }
            return "\(particlesText), RELION 3.0 file (no optics table), pixel size\(groups.count == 1 ? "" : "s") "
                + groups.map { px($0.imagePixelSize) }.joined(separator: ", ") + " Å/px"
        }
        return "\(particlesText), \(groups.count) optics group\(groups.count == 1 ? "" : "s") ("
            + groups.map { "\($0.name) \(px($0.imagePixelSize)) Å/px\($0.imageSize > 0 ? " box \($0.imageSize)" : "")" }.joined(separator: "; ") + ")"
    }
}

enum ParticleFileChecks {
    /// Reads the file and maps each particle to its optics group.
    static func read(_ file: String) throws -> ParticleFileSummary {
        let doc = try STARDocument(path: file)
        let kind = STARFileKind(doc)
        switch kind {
        case .tomography(let t) where t != .particles && t != .particles2DStacks:
            throw ProjectCheckError.notAParticleFile(file: file, kind: kind.description)
        case .relionAuxiliary:
            throw ProjectCheckError.notAParticleFile(file: file, kind: kind.description)
        default: break
        }
        let opticsBlock = doc.block("optics")
        let data = doc.block("particles")
            ?? doc.blocks.first { $0.isLoop && $0.name != "optics" && ($0.has("rlnImageName") || $0.has("rlnOpticsGroup")) }
            ?? doc.blocks.first { $0.isLoop && $0.has("rlnTomoName") }
        guard let particles = data else { throw ProjectCheckError.noParticleTable(file: file) }

        if let opticsBlock {
            // Lenient: a file with a broken optics value is still described, and every such value
            // becomes an error finding (RELION itself would stop at the first one).
            let table = try OpticsTable(block: opticsBlock, file: file, lenient: true)
            var index: [Int: Int] = [:]
            for (i, g) in table.groups.enumerated() { index[g.number] = i }
            var particleGroup = [Int](repeating: 0, count: particles.rowCount)
            var missing: [Int: (count: Int, firstLine: Int?)] = [:]
            var counts = [Int](repeating: 0, count: table.groups.count)
            if particles.has("rlnOpticsGroup") {
                let numbers = try particles.ints("rlnOpticsGroup")
                for (r, n) in numbers.enumerated() {
                    if let i = index[n] {
                        particleGroup[r] = i
                        counts[i] += 1
                    } else {
                        particleGroup[r] = -1
                        let old = missing[n]
                        missing[n] = ((old?.count ?? 0) + 1, old?.firstLine ?? particles.line(row: r))
                    }
                }
            } else if table.groups.count == 1 {
                counts[0] = particles.rowCount
            } else {
                // No column but several groups: RELION cannot tell which group a particle is in.
                particleGroup = [Int](repeating: -1, count: particles.rowCount)
                missing[0] = (particles.rowCount, particles.line(row: 0))
            }
            var summary = ParticleFileSummary(file: file, isRelion30: false, groups: table.groups, particles: particles,
                                              opticsBlock: opticsBlock, particleGroup: particleGroup,
                                              missingGroups: missing, counts: counts)
            summary.opticsProblems = table.problems
            return summary
        }

        if case .relion31 = kind {
            throw STARError.invalid(file: file, line: nil,
                reason: "data_\(particles.name) has rlnOpticsGroup but the file has no data_optics table (a RELION 3.1+ file whose optics table is missing or not named data_optics)")
        }
        if case .tomography = kind {
            var s = ParticleFileSummary(file: file, isRelion30: false, groups: [], particles: particles, opticsBlock: nil,
                                        particleGroup: [Int](repeating: -1, count: particles.rowCount), missingGroups: [:], counts: [])
            s.tomographyWithoutOptics = true
            return s
        }
        // RELION 3.0: the pixel size of each particle is rlnDetectorPixelSize (µm) × 10⁴ / rlnMagnification.
        var groups: [OpticsGroup] = []
        var particleGroup = [Int](repeating: 0, count: particles.rowCount)
        var counts: [Int] = []
        if particles.has("rlnMagnification") && particles.has("rlnDetectorPixelSize") {
            let mags = try particles.doubles("rlnMagnification")
            let dets = try particles.doubles("rlnDetectorPixelSize")
            let volts = particles.has("rlnVoltage") ? try particles.doubles("rlnVoltage") : []
            let css = particles.has("rlnSphericalAberration") ? try particles.doubles("rlnSphericalAberration") : []
            let acs = particles.has("rlnAmplitudeContrast") ? try particles.doubles("rlnAmplitudeContrast") : []
            for r in 0..<particles.rowCount {
                let pixel = mags[r] > 0 ? dets[r] * 1e4 / mags[r] : 0
                if let i = groups.firstIndex(where: { samePixelSize($0.imagePixelSize, pixel) }) {
                    particleGroup[r] = i
                    counts[i] += 1
                } else {
                    groups.append(OpticsGroup(number: groups.count + 1, name: "pixel size \(px(pixel))",
                                              imagePixelSize: pixel, imageSize: 0,
                                              voltage: volts.isEmpty ? 0 : volts[r], sphericalAberration: css.isEmpty ? 0 : css[r],
                                              amplitudeContrast: acs.isEmpty ? 0 : acs[r]))
                    particleGroup[r] = groups.count - 1
                    counts.append(1)
                }
            }
        }
        return ParticleFileSummary(file: file, isRelion30: true, groups: groups, particles: particles, opticsBlock: nil,
                                   particleGroup: groups.isEmpty ? [Int](repeating: -1, count: particles.rowCount) : particleGroup,
                                   missingGroups: [:], counts: counts)
    }

    static func findings(_ s: ParticleFileSummary, referencePixelSize: Double?) -> [Finding] {
        if s.tomographyWithoutOptics { return [] }
        if s.isRelion30 { return relion30File(s) }
        return invalidOptics(s) + nameConflicts(s) + missingGroups(s) + relion30Columns(s) + mtf(s)
            + OpticsImplications.findings(s, referencePixelSize: referencePixelSize)
    }

    // MARK: optics values RELION refuses

    static func invalidOptics(_ s: ParticleFileSummary) -> [Finding] {
        s.opticsProblems.map { problem in
            Finding(.invalidOpticsValue, .error, files: [s.file],
                problem: problem,
                why: "RELION reads the optics table when it opens the file and stops at such a value (every program of the pipeline does); the other checks skip what they cannot compute from it.",
                action: "Correct the value in data_optics (the pixel size, box and voltage the data were recorded and extracted with), e.g. from the extraction or MotionCorr job's own STAR file.")
        }
    }

    // MARK: RELION 3.0 file

    static func relion30File(_ s: ParticleFileSummary) -> [Finding] {
        let sizes = s.groups.map { px($0.imagePixelSize) + " Å/px" }
        let implied = sizes.isEmpty ? "it has no rlnMagnification/rlnDetectorPixelSize, so its pixel size is unknown"
            : "its pixel size\(sizes.count == 1 ? " is" : "s are") \(listed(sizes)) (rlnDetectorPixelSize × 10⁴ / rlnMagnification)"
        return [Finding(.relion30File, .warning, files: [s.file],
            problem: "\(s.file) is a RELION 3.0 file (no data_optics table); \(implied)",
            why: "RELION 3.1 and later keep the pixel size, voltage and Cs in optics groups; a 3.0 file's per-particle magnification columns are converted on reading, and mixing it with 3.1 files or tools loses or misreads them.",
            action: "Convert it with `angpix star upgrade \(s.file) -o upgraded.star` and check the optics table it prints.",
            values: Dictionary(uniqueKeysWithValues: s.groups.enumerated().map { ("pixelSize\($0.offset + 1)", $0.element.imagePixelSize) }))]
    }

    // MARK: optics groups sharing a name

    /// The optics values of a group that must agree between groups of the same name.
    static func opticsValues(_ g: OpticsGroup) -> [String: String] {
        g.values.filter { $0.key != "rlnOpticsGroup" && $0.key != "rlnOpticsGroupName" }
    }

    static func sameValue(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return a == b }
        if let x = Double(a), let y = Double(b) { return x == y || abs(x - y) <= 1e-9 * max(abs(x), abs(y)) }
        return a == b
    }

    static func nameConflicts(_ s: ParticleFileSummary) -> [Finding] {
        var out: [Finding] = []
        var byName: [String: [OpticsGroup]] = [:]
        var order: [String] = []
        for g in s.groups {
            if byName[g.name] == nil { order.append(g.name) }
            byName[g.name, default: []].append(g)
        }
        for name in order {
            guard let groups = byName[name], groups.count > 1 else { continue }
            let first = groups[0]
            var differences: [String] = []
            for other in groups.dropFirst() {
                let a = opticsValues(first), b = opticsValues(other)
                for label in Set(a.keys).union(b.keys).sorted() where !sameValue(a[label], b[label]) {
                    differences.append("\(label) \(a[label] ?? "(none)") in group \(first.number) vs \(b[label] ?? "(none)") in group \(other.number)")
                }
            }
            let numbers = groups.map { String($0.number) }.joined(separator: ", ")
            if differences.isEmpty {
                out.append(Finding(.opticsGroupNameRepeated, .info, files: [s.file],
                    problem: "optics groups \(numbers) share the name \"\(name)\" and have identical optics",
                    why: "Harmless here, but joining this file with others (RELION's JoinStar) merges groups by name.",
                    action: "Nothing needed; give the groups distinct rlnOpticsGroupName values if they should stay apart."))
            } else {
                out.append(Finding(.opticsGroupNameConflict, .error, files: [s.file],
                    problem: "optics groups \(numbers) share the name \"\(name)\" but not their optics: \(listed(differences, max: 6))",
                    why: "RELION identifies optics groups by name when joining or re-importing files and silently keeps the first group's values, so the particles of the other group would be processed with the wrong pixel size, box or optics.",
                    action: "Give each group its own rlnOpticsGroupName (angpix star join --rename-conflicts does this when joining).",
                    values: ["groups": Double(groups.count)]))
            }
        }
        return out
    }

    // MARK: particles without an optics group

    static func missingGroups(_ s: ParticleFileSummary) -> [Finding] {
        guard !s.missingGroups.isEmpty else { return [] }
        let known = s.groups.map { String($0.number) }.joined(separator: ", ")
        if !s.particles.has("rlnOpticsGroup") {
            return [Finding(.missingOpticsGroup, .error, files: [s.file],
                problem: "the particle table has no rlnOpticsGroup column but the optics table has \(s.groups.count) groups (\(known))",
                why: "Nothing says which pixel size, box and optics each particle has.",
                action: "Add rlnOpticsGroup to the particles (or split the file by group).",
                values: ["particles": Double(s.particles.rowCount)])]
        }
        let total = s.missingGroups.values.reduce(0) { $0 + $1.count }
        let parts = s.missingGroups.keys.sorted().map { n -> String in
            let m = s.missingGroups[n]!
            return "group \(n): \(m.count) particle\(m.count == 1 ? "" : "s")\(m.firstLine.map { " (first on line \($0))" } ?? "")"
        }
        return [Finding(.missingOpticsGroup, .error, files: [s.file],
            problem: "\(total) particle\(total == 1 ? "" : "s") point to optics groups the optics table lacks: \(listed(parts)); the table has \(known)",
            why: "RELION stops on such a file, and a tool that does not would use another group's pixel size for them.",
            action: "Restore the missing optics group rows (for example from the file the particles came from), or remove those particles.",
            values: ["particles": Double(total)])]
    }

    // MARK: RELION 3.0 columns in a 3.1 file

    static func relion30Columns(_ s: ParticleFileSummary) -> [Finding] {
        var out: [Finding] = []
        let p = s.particles
        // rlnMagnification / rlnDetectorPixelSize, in the particle table or the optics table.
        for block in [p, s.opticsBlock].compactMap({ $0 }) where block.has("rlnMagnification") || block.has("rlnDetectorPixelSize") {
            let present = ["rlnMagnification", "rlnDetectorPixelSize"].filter(block.has)
            var disagreements: [String] = []
            var values: [String: Double] = [:]
            if block.has("rlnMagnification"), block.has("rlnDetectorPixelSize"),
               let mags = try? block.doubles("rlnMagnification"), let dets = try? block.doubles("rlnDetectorPixelSize") {
                var seen = Set<String>()
                for r in 0..<block.rowCount where mags[r] > 0 {
                    let implied = dets[r] * 1e4 / mags[r]
                    let gi: Int = block === p ? s.particleGroup[r] : r
                    guard gi >= 0, gi < s.groups.count else { continue }
                    let g = s.groups[gi]
                    if !samePixelSize(implied, g.imagePixelSize) {
                        let text = "\(px(implied)) Å/px for group \(g.number) (rlnImagePixelSize \(px(g.imagePixelSize)))"
                        if seen.insert(text).inserted { disagreements.append(text) }
                        values["impliedPixelSize\(g.number)"] = implied
                    }
                }
            }
            let disagreementText = disagreements.isEmpty
                ? "they agree with the optics groups' pixel sizes"
                : "they imply \(listed(disagreements))"
            out.append(Finding(.relion30Magnification, disagreements.isEmpty ? .info : .warning, files: [s.file],
                problem: "RELION 3.0 column\(present.count == 1 ? "" : "s") \(present.joined(separator: ", ")) left in data_\(block.name) of a RELION 3.1 file; \(disagreementText)",
                why: "RELION 3.1 ignores them and takes the pixel size from rlnImagePixelSize, but older tools and scripts read them\(disagreements.isEmpty ? "" : " and get another pixel size"). A file edited by hand this way is often where a wrong pixel size comes from.",
                action: "Remove the column\(present.count == 1 ? "" : "s") (the optics table is authoritative), after checking which pixel size is right.",
                values: values))
        }
        // rlnOriginX/Y in pixels.
        let pixelOrigins = ["rlnOriginX", "rlnOriginY", "rlnOriginZ"].filter(p.has)
        if !pixelOrigins.isEmpty {
            let angst = pixelOrigins.map { $0 + "Angst" }
            if angst.allSatisfy(p.has) {
                // Both: do they agree (origin in Å = origin in pixels × the group's pixel size)?
                var worst = 0.0
                var disagreeing = 0
                if let xs = try? p.doubles(pixelOrigins[0]), let xa = try? p.doubles(angst[0]) {
                    for r in 0..<p.rowCount {
                        let gi = s.particleGroup[r]
                        guard gi >= 0 else { continue }
                        let d = abs(xs[r] * s.groups[gi].imagePixelSize - xa[r])
                        if d > 0.01 { disagreeing += 1; worst = max(worst, d) }
                    }
                }
                out.append(Finding(.relion30Origins, disagreeing > 0 ? .warning : .info, files: [s.file],
                    problem: "RELION 3.0 origin column\(pixelOrigins.count == 1 ? "" : "s") \(pixelOrigins.joined(separator: ", ")) (pixels) left beside \(angst.joined(separator: ", "))"
                        + (disagreeing > 0 ? "; for \(disagreeing) particle\(disagreeing == 1 ? "" : "s") the two disagree (by up to \(formatFixed(worst, decimals: 2)) Å)" : "; they agree"),
                    why: "RELION 3.1 uses only the Å columns; the pixel columns are stale and mislead tools that still read them.",
                    action: "Remove \(pixelOrigins.joined(separator: ", ")).",
                    values: ["disagreeing": Double(disagreeing), "worstDifference": worst]))
            } else {
                out.append(Finding(.relion30Origins, .error, files: [s.file],
                    problem: "the particles have \(pixelOrigins.joined(separator: ", ")) (RELION 3.0 origins in pixels) but no \(angst.filter { !p.has($0) }.joined(separator: ", "))",
                    why: "RELION 3.1 reads origins only from rlnOriginXAngst/YAngst (in Å), so these particles' offsets are lost (taken as 0) and reconstructions blur.",
                    action: "Convert the origins: rlnOriginXAngst = rlnOriginX × rlnImagePixelSize of the particle's optics group (`angpix star upgrade` does this for a whole 3.0 file).",
                    values: ["particles": Double(p.rowCount)]))
            }
        }
        return out
    }

    // MARK: MTF without the original pixel size

    static func mtf(_ s: ParticleFileSummary) -> [Finding] {
        let affected = s.groups.filter { g in
            guard let m = g.mtfFileName, !m.isEmpty, m != "None", m != "\"\"" else { return false }
            return g.micrographOriginalPixelSize == nil
        }
        guard !affected.isEmpty else { return [] }
        let names = affected.map { "group \($0.number) (\($0.name), \(px($0.imagePixelSize)) Å/px, MTF \($0.mtfFileName!))" }
        return [Finding(.mtfWithoutOriginalPixelSize, .warning, files: [s.file] + affected.map { $0.mtfFileName! },
            problem: "rlnMtfFileName without rlnMicrographOriginalPixelSize for \(listed(names))",
            why: "An MTF is tabulated in fractions of the detector's Nyquist frequency; RELION needs the detector pixel size (before down-sampling in extraction) to apply it at the right resolution. Without it the image pixel size is assumed, which is wrong for binned particles.",
            action: "Add rlnMicrographOriginalPixelSize (the detector pixel size in Å, the one of the motion-corrected micrographs) to the optics table.",
            values: Dictionary(uniqueKeysWithValues: affected.map { ("imagePixelSize\($0.number)", $0.imagePixelSize) }))]
    }
}
