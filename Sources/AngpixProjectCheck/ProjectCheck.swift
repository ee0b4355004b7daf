// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The project check: reads the files of a RELION project that bear on the pixel size (a particle
// STAR file, the reference and the mask of a refinement, a postprocess.star and its half maps,
// the particle stacks) and reports every trap of RELION's "Pixel size issues" page as a
// `Finding`. The individual checks live in one file each (ParticleFileChecks, MapChecks,
// StackChecks, PostprocessChecks); this file holds the inputs, the entry point and the helpers.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC
import AngpixOptics

/// What to check. Paths inside STAR files (stacks, half maps) are relative to the project folder.
public struct ProjectCheckInputs: Sendable {
    /// A particle STAR file (run_data.star, particles.star, …).
    public var star: String?
    /// The reference map of a refinement.
    public var reference: String?
    /// The mask of a refinement or of PostProcess.
    public var mask: String?
    /// A postprocess.star.
    public var postprocess: String?
    /// Open the particle stacks named by the STAR file and compare their headers.
    public var openStacks: Bool
    /// The RELION project folder (where the paths in the STAR files start). When a path is not
    /// found there, the folders above the STAR file are tried (a job's output sits two levels down).
    public var projectDirectory: String
    /// The RELION release the project is run with; nil: read from the particle file's
    /// `# version` line (50001: RELION 5; 30001: 3.1 or 4), else all three.
    public var relion: RelionVersion?
    /// The final resolution (Å), to say what a pixel-size difference means there; by default the
    /// postprocess.star's rlnFinalResolution.
    public var finalResolution: Double?
    /// The folder the Polishing plan's commands write the subsets to (`--write-plan`).
    public var planDirectory: String = "PolishPlan"

    public init(star: String? = nil, reference: String? = nil, mask: String? = nil, postprocess: String? = nil,
                openStacks: Bool = false, projectDirectory: String = ".", relion: RelionVersion? = nil,
                finalResolution: Double? = nil) {
        self.star = star
        self.reference = reference
        self.mask = mask
        self.postprocess = postprocess
        self.openStacks = openStacks
        self.projectDirectory = projectDirectory
        self.relion = relion
        self.finalResolution = finalResolution
    }

    /// The releases the check is for, and a line saying why.
    public func versions() -> (versions: [RelionVersion], reason: String) {
        if let relion { return ([relion], "\(relion.name) (--relion)") }
        if let star, let n = STARVersionLine.read(path: star), let v = RelionVersion.writers(ofSTARVersion: n) {
            return (v, "\(RelionVersion.names(v)) (\(star) starts with `# version \(n)`; --relion to choose)")
        }
        return (RelionVersion.allCases, "\(RelionVersion.names(RelionVersion.allCases)) (no `# version` line tells which; --relion to choose)")
    }
}

/// Errors that stop a check (unreadable inputs are reported by the STAR and MRC readers).
public enum ProjectCheckError: AngpixError, Equatable {
    case nothingToCheck
    case stacksNeedStar
    case noParticleTable(file: String)
    case notAParticleFile(file: String, kind: String)
    case noGeneralTable(file: String)

    public var description: String {
        switch self {
        case .nothingToCheck:
            return "nothing to check: give --star, --reference, --mask and/or --postprocess"
        case .stacksNeedStar:
            return "--stacks needs a particle STAR file (--star)"
        case .noParticleTable(let f):
            return "\(f): no particle table (data_particles, or a RELION 3.0 table with rlnImageName)"
        case .notAParticleFile(let f, let kind):
            return "\(f): a \(kind) file, not a particle file; give --star a particle file (e.g. Refine3D/jobNNN/run_data.star)"
        case .noGeneralTable(let f):
            return "\(f): not a postprocess.star (no data_general table with rlnUnfilteredMapHalf1)"
        }
    }
}

/// Runs every check that the given inputs allow.
public enum ProjectChecker {
    /// Checks the project; throws only when an input cannot be read at all.
    public static func check(_ inputs: ProjectCheckInputs) throws -> ProjectCheckReport {
        if inputs.star == nil && inputs.reference == nil && inputs.mask == nil && inputs.postprocess == nil {
            throw ProjectCheckError.nothingToCheck
        }
        if inputs.openStacks && inputs.star == nil { throw ProjectCheckError.stacksNeedStar }
        var findings: [Finding] = []
        var checked: [String] = []
        let (versions, versionLine) = inputs.versions()
        let paths = PathResolver(projectDirectory: inputs.projectDirectory, nearFiles: [inputs.star, inputs.postprocess].compactMap { $0 })

        let referenceHeader = try inputs.reference.map { try MRCFile.readHeader(path: $0) }
        var particles: ParticleFileSummary? = nil
        var plan: PolishingPlan? = nil
        if let star = inputs.star {
            let summary = try ParticleFileChecks.read(star)
            findings += ParticleFileChecks.findings(summary, referencePixelSize: referenceHeader?.pixelSize)
            checked.append(summary.checkedLine)
            particles = summary
            let motion = MotionCorrChecks.findings(summary, paths: paths, planDirectory: inputs.planDirectory)
            findings += motion.findings
            checked += motion.checked
            plan = motion.plan
            if inputs.openStacks {
                let result = try StackChecks.findings(summary, paths: paths)
                findings += result.findings
                checked.append(result.checkedLine)
            }
        }
        var postprocess: PostprocessSummary? = nil
        if let pp = inputs.postprocess {
            let summary = try PostprocessChecks.read(pp, paths: paths)
            findings += PostprocessChecks.findings(summary)
            checked.append(summary.checkedLine)
            postprocess = summary
        }
        if let ref = inputs.reference, let header = referenceHeader {
            checked.append("\(ref): \(MapChecks.describe(header))")
            if let particles {
                findings += MapChecks.referenceFindings(reference: ref, header: header, particles: particles, postprocess: postprocess,
                                                        versions: versions, finalResolution: inputs.finalResolution ?? postprocess?.finalResolution)
            }
        }
        if let mask = inputs.mask {
            let header = try MRCFile.readHeader(path: mask)
            checked.append("\(mask): \(MapChecks.describe(header))")
            if let ref = inputs.reference, let referenceHeader {
                findings += MapChecks.maskFindings(mask: mask, header: header, reference: ref, referenceHeader: referenceHeader)
            } else if let particles {
                findings += MapChecks.maskAgainstOptics(mask: mask, header: header, particles: particles)
            } else if let postprocess, let half = postprocess.half1Header {
                findings += MapChecks.maskFindings(mask: mask, header: header, reference: postprocess.half1 ?? "half map 1", referenceHeader: half)
            }
        }
        findings = findings.filter { !Set($0.relion).isDisjoint(with: versions) }
        checked.append("for \(versionLine)")
        var report = ProjectCheckReport(findings: findings, checked: checked)
        report.polishingPlan = plan
        return report
    }
}

/// Two pixel sizes are the same when they differ by less than 0.02 % (STAR files keep six
/// decimals, MRC headers a float32 cell size).
func samePixelSize(_ a: Double, _ b: Double) -> Bool {
    abs(a - b) <= 2e-4 * max(abs(a), abs(b))
}

/// A pixel size as printed in messages: three decimals, or more when needed to tell values apart.
func px(_ value: Double) -> String {
    let three = formatFixed(value, decimals: 3)
    if let shown = Double(three), abs(shown - value) < 5e-5 { return three }
    return formatFixed(value, decimals: 4)
}

/// A list of items for a message: all of them when few, else the first ones and how many more.
func listed(_ items: [String], max: Int = 4) -> String {
    if items.count <= max { return items.joined(separator: ", ") }
    return items.prefix(max).joined(separator: ", ") + " and \(items.count - max) more"
}

/// Finds the files a STAR file names: as given if absolute, else relative to the project folder,
/// else relative to the folders above the STAR files being checked.
struct PathResolver: Sendable {
    var projectDirectory: String
    var nearFiles: [String]

    func resolve(_ path: String) -> String? {
        let fm = FileManager.default
        if path.hasPrefix("/") { return fm.fileExists(atPath: path) ? path : nil }
        let direct = (projectDirectory as NSString).appendingPathComponent(path)
        if fm.fileExists(atPath: direct) { return direct }
        for file in nearFiles {
            var dir = (canonicalPath(file) as NSString).deletingLastPathComponent
            for _ in 0..<4 {
                let candidate = (dir as NSString).appendingPathComponent(path)
                if fm.fileExists(atPath: candidate) { return candidate }
                let up = (dir as NSString).deletingLastPathComponent
                if up == dir || up.isEmpty { break }
                dir = up
            }
        }
        return nil
    }
}
