// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What the MotionCorr jobs behind a particle file say: the Polishing plan for particles joined
// from several MotionCorr jobs (RELION's "Pixel size issues" page: do not merge MotionCorr STAR
// files, polish each job's particles and join the shiny.star files; RELION's Polishing refuses to
// estimate its parameters for optics groups of different pixel size or box together, src/jaz/
// single_particle/motion/motion_param_estimator.cpp), and the detector's pixel sizes: the gain
// reference of each job (job.star's fn_gain_ref), the binning between rlnMicrographOriginalPixelSize
// and rlnMicrographPixelSize, and MTF files that differ between optics groups of one detector.
// The jobs are found from the particles' rlnMicrographName (MotionCorr/jobNNN/…), their
// corrected_micrographs.star through default_pipeline.star (RELION 4/5) or in the job folder.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC
import AngpixOptics

/// One set of the Polishing plan: the particles of one MotionCorr job.
public struct PolishingSet: Sendable, Codable, Equatable {
    /// The MotionCorr job folder (MotionCorr/job002).
    public var job: String
    /// Its corrected_micrographs.star as the pipeline names it, from the project folder (nil when
    /// it was not found).
    public var correctedMicrographs: String?
    /// The same file as found from the current folder (what is read).
    public var correctedMicrographsFile: String?
    /// The particles whose micrograph is in this job.
    public var particles: Int
    /// The optics groups of those particles ("name (1.040 Å/px, box 256)").
    public var opticsGroups: [String]
    /// The subset file's name in the plan folder.
    public var subsetFile: String
}

/// The Polishing plan of a particle file joined from several MotionCorr jobs.
public struct PolishingPlan: Sendable, Codable, Equatable {
    /// The particle file (run_data.star) the subsets are made from.
    public var particles: String
    public var sets: [PolishingSet]
    /// Particles whose micrograph is listed in no corrected_micrographs.star of the plan.
    public var unlistedParticles: Int
    /// Particles whose micrograph is listed in more than one.
    public var multiplyListedParticles: Int

    /// The `angpix star subset` command of each set, writing into `directory`.
    public func subsetCommands(directory: String) -> [String] {
        sets.compactMap { s in
            s.correctedMicrographs.map { "angpix star subset \(particles) --micrographs \($0) --only-used-groups -o \((directory as NSString).appendingPathComponent(s.subsetFile))" }
        }
    }

    /// The final join of the Polish jobs' shiny.star files (one placeholder per set).
    public var joinCommand: String {
        "angpix star join " + sets.indices.map { "Polish/job\(Character(UnicodeScalar(65 + $0 % 26)!))/shiny.star" }.joined(separator: " ") + " -o shiny_joined.star"
    }

    /// Writes each set's subset STAR file and `polish_plan.sh` into `directory` (created if
    /// needed); returns the paths written. Every particle must be in exactly one set.
    public func write(to directory: String, policy: OutputPolicy) throws -> [String] {
        guard unlistedParticles == 0 && multiplyListedParticles == 0 else {
            throw CoreError.invalidArgument("\(particles): \(unlistedParticles) particles are on micrographs listed in no MotionCorr job's corrected_micrographs.star and \(multiplyListedParticles) in more than one; the subsets would lose or repeat them, so no plan was written")
        }
        guard sets.allSatisfy({ $0.correctedMicrographs != nil }) else {
            throw CoreError.invalidArgument("\(particles): the corrected_micrographs.star of \(sets.filter { $0.correctedMicrographs == nil }.map(\.job).joined(separator: ", ")) was not found; no plan was written")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let document = try STARDocument(path: particles)
        var written: [String] = []
        for s in sets {
            let listFile = s.correctedMicrographsFile ?? s.correctedMicrographs!
            let list = try STARDocument(path: listFile)
            let subset = try STARSubset.byMicrographs(particles: document, particlesFile: particles, micrographs: list,
                                                      micrographsFile: listFile, onlyUsedOpticsGroups: true)
            guard subset.keptParticles == s.particles else {
                throw CoreError.invalidArgument("\(s.correctedMicrographs!): selects \(subset.keptParticles) particles, the check counted \(s.particles); no plan was written")
            }
            let path = (directory as NSString).appendingPathComponent(s.subsetFile)
            try subset.document.write(to: path, policy: policy)
            written.append(path)
        }
        var script = "#!/bin/sh\n# The Polishing plan of \(particles), written by angpix check.\n"
        script += "# Run from the RELION project folder. RELION's Polishing cannot estimate its parameters for optics\n"
        script += "# groups of different pixel size or box together, and must see each MotionCorr job's micrographs on\n"
        script += "# their own: one Polish job per set below, then the shiny.star files joined.\nset -e\n\n"
        script += "# 1. The sets (already written by angpix check; this makes them again).\n"
        for c in subsetCommands(directory: directory) { script += c + " --force\n" }
        script += "\n# 2. In RELION, one Bayesian Polishing job per set:\n"
        for s in sets {
            script += "#    particles \((directory as NSString).appendingPathComponent(s.subsetFile)) with micrographs \(s.correctedMicrographs!) (\(s.particles) particles)\n"
        }
        script += "\n# 3. Give each Polish job's shiny.star (SHINY1, SHINY2, …) and join them:\n"
        for (i, _) in sets.enumerated() { script += "SHINY\(i + 1)=${SHINY\(i + 1):-}\n" }
        let vars = sets.indices.map { "\"$SHINY\($0 + 1)\"" }.joined(separator: " ")
        script += "if " + sets.indices.map { "[ -f \"$SHINY\($0 + 1)\" ]" }.joined(separator: " && ") + "; then\n"
        script += "    angpix star join \(vars) -o shiny_joined.star\nelse\n"
        script += "    echo \"set SHINY1 … SHINY\(sets.count) to the Polish jobs' shiny.star files to join them\"\nfi\n"
        let scriptPath = (directory as NSString).appendingPathComponent("polish_plan.sh")
        try policy.check(scriptPath)
        let w = try AtomicFileWriter(destination: scriptPath, policy: policy)
        try w.write(script)
        try w.commit()
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scriptPath)
        written.append(scriptPath)
        return written
    }
}

/// One MotionCorr job as the checks read it.
struct MotionCorrJob {
    var job: String
    var correctedMicrographs: String?
    var resolved: String?
    var micrographs: Set<String> = []
    /// data_optics rows of corrected_micrographs.star: name, movie (original) and micrograph pixel sizes, MTF, voltage.
    var optics: [(name: String, original: Double?, micrograph: Double?, mtf: String?, voltage: Double?)] = []
    var gainReference: String?
}

enum MotionCorrChecks {
    /// The job folder of a micrograph path (MotionCorr/job002/Movies/a.mrc → MotionCorr/job002).
    static func jobFolder(_ micrograph: String) -> String? {
        let parts = micrograph.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 3, parts[1].hasPrefix("job") else { return nil }
        return parts[0] + "/" + parts[1]
    }

    /// The output nodes of default_pipeline.star (RELION 3.1, 4 and 5 name them alike).
    static func pipelineNodes(_ paths: PathResolver) -> [String] {
        guard let file = paths.resolve("default_pipeline.star"), let doc = try? STARDocument(path: file),
              let nodes = doc.block("pipeline_nodes"), let names = try? nodes.strings("rlnPipeLineNodeName") else { return [] }
        return names
    }

    static func readJob(_ job: String, nodes: [String], paths: PathResolver) -> MotionCorrJob {
        var j = MotionCorrJob(job: job)
        let candidate = nodes.first { $0.hasPrefix(job + "/") && $0.hasSuffix("corrected_micrographs.star") }
            ?? job + "/corrected_micrographs.star"
        if let file = paths.resolve(candidate) {
            j.correctedMicrographs = candidate
            j.resolved = file
            if let doc = try? STARDocument(path: file) {
                if let m = doc.block("micrographs"), let names = try? m.strings("rlnMicrographName") { j.micrographs = Set(names) }
                if let o = doc.block("optics") {
                    for r in 0..<o.rowCount {
                        let d = { (l: String) -> Double? in (try? o.double(row: r, l)) ?? nil }
                        let mtf = o.string(row: r, "rlnMtfFileName").flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
                        j.optics.append((o.string(row: r, "rlnOpticsGroupName") ?? "group \(r + 1)", d("rlnMicrographOriginalPixelSize"),
                                         d("rlnMicrographPixelSize"), mtf, d("rlnVoltage")))
                    }
                }
            }
        }
        if let jobStar = paths.resolve(job + "/job.star"), let doc = try? STARDocument(path: jobStar),
           let values = doc.block("joboptions_values"),
           let names = try? values.strings("rlnJobOptionVariable"), let vals = try? values.strings("rlnJobOptionValue"),
           let i = names.firstIndex(of: "fn_gain_ref"), !vals[i].isEmpty, vals[i] != "\"\"" {
            j.gainReference = vals[i]
        }
        return j
    }

    /// The findings and the plan for particle file `s`.
    static func findings(_ s: ParticleFileSummary, paths: PathResolver, planDirectory: String = "PolishPlan") -> (findings: [Finding], plan: PolishingPlan?, checked: [String]) {
        guard !s.isRelion30, s.particles.has("rlnMicrographName"),
              let names = try? s.particles.strings("rlnMicrographName") else { return ([], nil, []) }
        var jobOrder: [String] = []
        var jobOf = [String?](repeating: nil, count: names.count)
        var seen = Set<String>()
        for (r, m) in names.enumerated() {
            guard let j = jobFolder(m) else { continue }
            jobOf[r] = j
            if seen.insert(j).inserted { jobOrder.append(j) }
        }
        let nodes = pipelineNodes(paths)
        let jobs = jobOrder.filter { $0.hasPrefix("MotionCorr/") || nodes.contains("\($0)/corrected_micrographs.star") }
            .map { readJob($0, nodes: nodes, paths: paths) }
        var out: [Finding] = []
        var checked: [String] = []
        for j in jobs {
            checked.append("\(j.job): " + (j.correctedMicrographs.map { "\($0), \(j.micrographs.count) micrographs" } ?? "no corrected_micrographs.star found")
                           + (j.gainReference.map { ", gain reference \($0)" } ?? ""))
        }
        out += detector(s, jobs: jobs, paths: paths)

        // Polishing: several jobs, or used optics groups of different pixel size or box.
        let used = s.groups.indices.filter { s.counts.indices.contains($0) && s.counts[$0] > 0 }.map { s.groups[$0] }
        let sizes = Set(used.map { "\(px($0.imagePixelSize)) \($0.imageSize)" })
        guard jobOrder.count > 1 || sizes.count > 1 else { return (out, nil, checked) }
        let relion = [RelionVersion.v3_1, .v4, .v5]
        if jobOrder.count == 1 {
            // Only when the MotionCorr job is there to polish from.
            guard jobs.first?.correctedMicrographs != nil else { return (out, nil, checked) }
            out.append(Finding(.polishingPlan, .warning, files: [s.file],
                problem: "the particles come from one MotionCorr job (\(jobOrder[0])) but from optics groups of different pixel size or box: \(listed(used.map { "\($0.name) \(px($0.imagePixelSize)) Å/px box \($0.imageSize)" }))",
                why: "RELION's Polishing cannot estimate its parameters for optics groups of different pixel size or box together (\"unable to estimate motion parameters for all optics groups simultaneously\").",
                action: "Estimate the Polishing parameters for one optics group at a time (relion_motion_refine --par_group), then polish with them.",
                relion: relion))
            return (out, nil, checked)
        }
        // Which job's list holds each particle's micrograph.
        var counts = [Int](repeating: 0, count: jobs.count)
        var unlisted = 0, multiple = 0
        var firstUnlisted: Int? = nil, firstMultiple: Int? = nil
        var groupsOfSet = [Set<Int>](repeating: [], count: jobs.count)
        for (r, m) in names.enumerated() {
            let holders = jobs.indices.filter { jobs[$0].micrographs.contains(m) }
            if holders.isEmpty { unlisted += 1; if firstUnlisted == nil { firstUnlisted = r } }
            if holders.count > 1 { multiple += 1; if firstMultiple == nil { firstMultiple = r } }
            if holders.count == 1 {
                counts[holders[0]] += 1
                if s.particleGroup[r] >= 0 { groupsOfSet[holders[0]].insert(s.particleGroup[r]) }
            }
        }
        let sets = jobs.indices.map { i -> PolishingSet in
            let j = jobs[i]
            return PolishingSet(job: j.job, correctedMicrographs: j.correctedMicrographs, correctedMicrographsFile: j.resolved, particles: counts[i],
                                opticsGroups: groupsOfSet[i].sorted().map { g in "\(s.groups[g].name) (\(px(s.groups[g].imagePixelSize)) Å/px, box \(s.groups[g].imageSize))" },
                                subsetFile: "polish_" + j.job.replacingOccurrences(of: "/", with: "_") + ".star")
        }
        let plan = PolishingPlan(particles: s.file, sets: sets, unlistedParticles: unlisted, multiplyListedParticles: multiple)
        let missing = jobs.filter { $0.correctedMicrographs == nil }.map(\.job)
        let setText = sets.map { "\($0.job): \($0.particles) particles, optics group\($0.opticsGroups.count == 1 ? "" : "s") \($0.opticsGroups.joined(separator: ", ")), with \($0.correctedMicrographs ?? "(corrected_micrographs.star not found)")" }
        var action = "Polish each set on its own, with its MotionCorr job's corrected_micrographs.star, then join the shiny.star files. Make the sets with "
        action += plan.subsetCommands(directory: planDirectory).map { "`\($0)`" }.joined(separator: "; ")
        action += " (or `angpix check --star \(s.file) --write-plan \(planDirectory)`, which writes them and a script); after Polishing, `\(plan.joinCommand)` with the Polish jobs' numbers."
        if !missing.isEmpty { action = "Find the corrected_micrographs.star of \(missing.joined(separator: ", ")) (run the check from the project folder or give --project). " + action }
        out.append(Finding(.polishingPlan, missing.isEmpty ? .info : .warning, files: [s.file] + sets.compactMap(\.correctedMicrographs),
            problem: "the particles come from \(jobOrder.count) MotionCorr jobs\(sizes.count > 1 ? " and optics groups of different pixel size or box" : ""): \(setText.joined(separator: "; "))",
            why: "RELION's \"Pixel size issues\" page: do not merge MotionCorr STAR files for Polishing, polish the particles of each MotionCorr job with that job's corrected_micrographs.star and join the shiny.star files. Polishing also refuses to estimate its parameters for optics groups of different pixel size or box together (\"unable to estimate motion parameters for all optics groups simultaneously\"), so each set keeps only its own optics groups.",
            action: action,
            values: Dictionary(uniqueKeysWithValues: sets.enumerated().map { ("set\($0.offset + 1)Particles", Double($0.element.particles)) }),
            relion: relion))
        if missing.isEmpty && (unlisted > 0 || multiple > 0) {
            var parts: [String] = []
            if let r = firstUnlisted { parts.append("\(unlisted) particle\(unlisted == 1 ? " is" : "s are") on micrographs listed in none of them (first \(names[r])\(s.particles.line(row: r).map { ", line \($0)" } ?? ""))") }
            if let r = firstMultiple { parts.append("\(multiple) on micrographs listed in more than one (first \(names[r])\(s.particles.line(row: r).map { ", line \($0)" } ?? ""))") }
            out.append(Finding(.polishingSubsets, .error, files: [s.file] + sets.compactMap(\.correctedMicrographs),
                problem: "not every particle falls in exactly one set of the Polishing plan: \(parts.joined(separator: "; "))",
                why: "Polishing writes only the particles of the micrographs it is given: unlisted particles are lost from the joined shiny.star, and particles listed twice appear twice.",
                action: "Find where those micrographs come from (a renamed or re-run MotionCorr job?) and give their job's corrected_micrographs.star, or remove the particles first.",
                values: ["unlisted": Double(unlisted), "multiplyListed": Double(multiple)], relion: relion))
        }
        return (out, plan, checked)
    }

    // MARK: detector pixel sizes

    /// Binning factors taken as plausible: whole numbers up to 8, 1.5, and 0.5 (super-resolution
    /// or EER movies recorded at the physical pixel size and up-sampled).
    static let plausibleBinnings: [Double] = [0.5, 1, 1.5, 2, 3, 4, 5, 6, 8]

    static func detector(_ s: ParticleFileSummary, jobs: [MotionCorrJob], paths: PathResolver) -> [Finding] {
        var out: [Finding] = []
        // Binning: micrograph pixel size over the movies' (detector's) pixel size.
        var binnings: [(where_: String, name: String, original: Double, micrograph: Double)] = []
        for j in jobs { for o in j.optics { if let a = o.original, let b = o.micrograph, a > 0, b > 0 { binnings.append((j.correctedMicrographs ?? j.job, o.name, a, b)) } } }
        for g in s.groups { if let a = g.micrographOriginalPixelSize, let b = g.micrographPixelSize, a > 0, b > 0 { binnings.append((s.file, g.name, a, b)) } }
        for b in binnings {
            let factor = b.micrograph / b.original
            guard !plausibleBinnings.contains(where: { abs(factor / $0 - 1) <= 0.005 }) else { continue }
            out.append(Finding(.implausibleBinning, .warning, files: [b.where_],
                problem: "optics group \(b.name): rlnMicrographPixelSize \(px(b.micrograph)) Å over rlnMicrographOriginalPixelSize \(px(b.original)) Å is a binning of \(formatFixed(factor, decimals: 4)), not a plausible one (1, 2, 3, 4 … 8, 1.5, or 0.5)",
                why: "rlnMicrographOriginalPixelSize is the detector's (the movies') pixel size, which the MTF and the gain reference refer to; MotionCorr bins by a chosen factor, so the two should differ by it. Another ratio means one of them was typed wrongly at import (a 0.429 for a 0.4125, say), and the MTF is applied at the wrong frequencies.",
                action: "Check the movies' pixel size against the microscope's calibration and the Import job; re-import with the right value if it was wrong.",
                values: ["binning": factor, "originalPixelSize": b.original, "micrographPixelSize": b.micrograph]))
        }
        // Gain references: the movies' or the micrographs' pixel size (super-resolution: half of them).
        for j in jobs {
            guard let gain = j.gainReference else { continue }
            let lower = gain.lowercased()
            guard lower.hasSuffix(".mrc") || lower.hasSuffix(".mrcs"), let file = paths.resolve(gain),
                  let header = try? MRCFile.readHeader(path: file), header.pixelSize > 0 else { continue }
            let originals = j.optics.compactMap(\.original), micrographs = j.optics.compactMap(\.micrograph)
            guard !originals.isEmpty || !micrographs.isEmpty else { continue }
            let close = { (a: Double, b: Double) in abs(a / b - 1) <= 0.002 }
            if (originals + micrographs).contains(where: { close(header.pixelSize, $0) }) { continue }
            let expected = Array(Set((originals + micrographs).map { px($0) })).sorted()
            out.append(Finding(.gainReferencePixelSize, .warning, files: [gain, j.correctedMicrographs ?? j.job],
                problem: "the gain reference of \(j.job), \(gain), has header pixel size \(px(header.pixelSize)) Å, neither the movies' (\(listed(Array(Set(originals.map { px($0) })).sorted()))) nor the micrographs' (\(listed(Array(Set(micrographs.map { px($0) })).sorted()))) Å",
                why: "A gain reference is recorded on the detector: at the movies' pixel size (super-resolution: half the micrographs', 0.4125 for 0.825 Å, which is normal), or at the binned one. A third value (users report 0.429 for 0.4125) means the gain reference, or the pixel size given at import, belongs to another session or detector setting.",
                action: "Check that the gain reference belongs to these movies (same detector, mode and session); its header is often not maintained, so confirm against the microscope's records before re-importing. Expected \(listed(expected)) Å.",
                values: ["gainPixelSize": header.pixelSize]))
        }
        // MTF files on one detector: groups with the same original pixel size and voltage.
        var byDetector: [String: [(name: String, mtf: String)]] = [:]
        var order: [String] = []
        for g in s.groups {
            guard let a = g.micrographOriginalPixelSize, a > 0 else { continue }
            let key = "\(px(a)) Å at \(formatFixed(g.voltage, decimals: 0)) kV"
            let mtf = g.mtfFileName.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 } ?? "(none)"
            if byDetector[key] == nil { order.append(key) }
            byDetector[key, default: []].append((g.name, mtf))
        }
        for key in order {
            let entries = byDetector[key]!
            guard Set(entries.map(\.mtf)).count > 1 else { continue }
            out.append(Finding(.mtfDiffersOnDetector, .warning, files: [s.file],
                problem: "optics groups of one detector (original pixel size \(key)) have different MTF files: \(listed(entries.map { "\($0.name) \($0.mtf)" }, max: 6))",
                why: "The MTF belongs to the detector and the voltage, not to a dataset: groups recorded on the same detector at the same voltage should share it. Different files (or one group without) weight their particles differently in refinement and post-processing.",
                action: "Give every group of that detector the same rlnMtfFileName (the detector's MTF at that voltage), unless they really are different detectors with the same pixel size.",
                values: ["groups": Double(entries.count)]))
        }
        return out
    }
}
