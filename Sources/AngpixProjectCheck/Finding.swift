// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What `angpix check` reports: findings about pixel-size traps in a RELION project, each with a
// severity, the files involved, what is wrong, why it matters and what to do. The traps are the
// ones of RELION's "Pixel size issues" page (RELION wiki,
// https://www3.mrc-lmb.cam.ac.uk/relion/index.php/Pixel_size_issues), and those RELION 4 and 5
// users meet since; each finding names the RELION releases it applies to.

import AngpixOptics

/// How serious a finding is. `error`: the project will give wrong results as it stands (the check
/// exits with status 1); `warning`: probably a mistake, or a number the user must look at;
/// `info`: worth knowing, nothing to fix.
public enum Severity: String, Sendable, Codable, Comparable, CaseIterable {
    case info, warning, error

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    var rank: Int { self == .info ? 0 : self == .warning ? 1 : 2 }
}

/// The kind of a finding (a stable name for scripts and tests; the `code` key of the JSON output).
public enum FindingCode: String, Sendable, Codable, CaseIterable {
    /// The reference's header pixel size is none of the optics groups' nominal pixel sizes (0.98 → 0.96 trap).
    case referencePixelSize = "reference-pixel-size"
    /// The reference matches an optics group other than the first, or the first group's pixel size but not its box.
    case referenceNotFirstGroup = "reference-not-first-group"
    /// The mask's pixel size differs from the reference's.
    case maskPixelSize = "mask-pixel-size"
    /// The mask's box differs from the reference's.
    case maskBox = "mask-box"
    /// Two optics groups share a name but not their optics.
    case opticsGroupNameConflict = "optics-group-name-conflict"
    /// Two optics groups share a name and have identical optics.
    case opticsGroupNameRepeated = "optics-group-name-repeated"
    /// Particles refer to an optics group that the optics table lacks.
    case missingOpticsGroup = "missing-optics-group"
    /// The file is a RELION 3.0 file (no optics table).
    case relion30File = "relion30-file"
    /// RELION 3.0 magnification columns left in a RELION 3.1 file.
    case relion30Magnification = "relion30-magnification"
    /// RELION 3.0 origins in pixels left in a RELION 3.1 file.
    case relion30Origins = "relion30-origins"
    /// rlnMtfFileName without rlnMicrographOriginalPixelSize.
    case mtfWithoutOriginalPixelSize = "mtf-without-original-pixel-size"
    /// A large Z40 (4th-order aberration) and the pixel size it implies.
    case largeZ40 = "large-z40"
    /// A magnification matrix whose scale is far from 1, and the pixel size it implies.
    case magnificationScale = "magnification-scale"
    /// A particle stack's header pixel size differs from its optics group's rlnImagePixelSize.
    case stackPixelSize = "stack-pixel-size"
    /// A particle stack's box differs from its optics group's rlnImageSize.
    case stackBox = "stack-box"
    /// A particle stack is missing or unreadable.
    case stackMissing = "stack-missing"
    /// A particle refers to an image beyond the end of its stack.
    case stackIndex = "stack-index"
    /// postprocess.star's pixel size differs from its half maps' headers.
    case postprocessPixelSize = "postprocess-pixel-size"
    /// The two half maps of a postprocess.star differ in pixel size or box.
    case halfMapsDiffer = "half-maps-differ"
    /// A half map named by postprocess.star is missing.
    case halfMapMissing = "half-map-missing"
    /// A value of data_optics that RELION refuses (not a number, a pixel size or box ≤ 0, …).
    case invalidOpticsValue = "invalid-optics-value"
    /// RELION 5 resizes the reference to the first optics group and reaches another pixel size.
    case referenceResize = "reference-resize"
    /// The particles come from several MotionCorr jobs or optics groups of different pixel size
    /// or box: Polishing must run per job (the plan).
    case polishingPlan = "polishing-plan"
    /// Particles whose micrograph is listed in none, or more than one, of the plan's MotionCorr files.
    case polishingSubsets = "polishing-subsets"
    /// A gain reference whose header pixel size is neither the movies' nor the micrographs'.
    case gainReferencePixelSize = "gain-reference-pixel-size"
    /// The micrograph pixel size over rlnMicrographOriginalPixelSize is not a plausible binning.
    case implausibleBinning = "implausible-binning"
    /// Optics groups of one detector (same original pixel size and voltage) with different MTF files.
    case mtfDiffersOnDetector = "mtf-differs-on-detector"
}

/// One problem (or one notable fact) found in a project's files.
public struct Finding: Sendable, Codable, Equatable {
    /// The kind of finding.
    public var code: FindingCode
    public var severity: Severity
    /// The files involved (as given or as written in the STAR file).
    public var files: [String]
    /// What is wrong, with the numbers.
    public var problem: String
    /// Why it matters.
    public var why: String
    /// What to do.
    public var action: String
    /// The numbers behind the finding, by name (pixel sizes in Å, boxes in pixels, …).
    public var values: [String: Double]
    /// The RELION releases the finding applies to.
    public var relion: [RelionVersion]

    public init(_ code: FindingCode, _ severity: Severity, files: [String], problem: String, why: String,
                action: String, values: [String: Double] = [:], relion: [RelionVersion] = RelionVersion.allCases) {
        self.code = code
        self.severity = severity
        self.files = files
        self.problem = problem
        self.why = why
        self.action = action
        self.values = values
        self.relion = relion
    }

    enum CodingKeys: String, CodingKey { case code, severity, files, problem, why, action, values, relion }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode(FindingCode.self, forKey: .code), try c.decode(Severity.self, forKey: .severity),
                  files: try c.decode([String].self, forKey: .files), problem: try c.decode(String.self, forKey: .problem),
                  why: try c.decode(String.self, forKey: .why), action: try c.decode(String.self, forKey: .action),
                  values: try c.decodeIfPresent([String: Double].self, forKey: .values) ?? [:],
                  relion: try c.decodeIfPresent([RelionVersion].self, forKey: .relion) ?? RelionVersion.allCases)
    }
}

/// The result of a check: the findings, most serious first, and what was looked at.
public struct ProjectCheckReport: Sendable, Codable, Equatable {
    /// The findings, errors first, then warnings, then information, each in the order found.
    public var findings: [Finding]
    /// One line per thing that was checked ("run_data.star: 2 optics groups, 3000 particles").
    public var checked: [String]
    /// The Polishing plan, when the particles come from several MotionCorr jobs.
    public var polishingPlan: PolishingPlan?
    /// Whether anything serious (an error) was found: `angpix check` then exits with status 1.
    public var serious: Bool { findings.contains { $0.severity == .error } }

    public init(findings: [Finding], checked: [String]) {
        self.findings = findings.enumerated()
            .sorted { ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset) }
            .map(\.element)
        self.checked = checked
    }

    /// The number of findings of a severity.
    public func count(_ severity: Severity) -> Int { findings.filter { $0.severity == severity }.count }

    /// The findings of one kind.
    public func findings(_ code: FindingCode) -> [Finding] { findings.filter { $0.code == code } }

    enum CodingKeys: String, CodingKey { case findings, checked, serious, polishingPlan }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(findings, forKey: .findings)
        try c.encode(checked, forKey: .checked)
        try c.encode(serious, forKey: .serious)
        try c.encodeIfPresent(polishingPlan, forKey: .polishingPlan)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(findings: try c.decode([Finding].self, forKey: .findings),
                  checked: try c.decode([String].self, forKey: .checked))
        polishingPlan = try c.decodeIfPresent(PolishingPlan.self, forKey: .polishingPlan)
    }
}
