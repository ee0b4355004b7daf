// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// RELION's conventions over STAR tables (RELION 3.1 and later): the data_optics table of optics
// groups, the particle table whose rlnOpticsGroup refers to it, and the `N@stack.mrcs` image
// names. Labels and units as RELION defines them (src/metadata_label.h in RELION's sources):
// pixel sizes in Å, voltage in kV, Cs in mm; rlnMagMat00…11 is the anisotropic magnification
// matrix (called rlnMatrix00…11 on RELION's "Pixel size issues" page); rlnEvenZernike and
// rlnOddZernike are vectors written as `[a,b,c]`.

import AngpixCore

/// RELION's 2×2 anisotropic magnification matrix (rlnMagMat00, 01, 10, 11).
public struct MagnificationMatrix: Sendable, Equatable {
    public var m00: Double, m01: Double, m10: Double, m11: Double
    public init(m00: Double, m01: Double, m10: Double, m11: Double) {
        self.m00 = m00; self.m01 = m01; self.m10 = m10; self.m11 = m11
    }
    /// The identity (no magnification change).
    public static let identity = MagnificationMatrix(m00: 1, m01: 0, m10: 0, m11: 1)
}

/// One row of a RELION 3.1+ `data_optics` table.
public struct OpticsGroup: Sendable {
    /// rlnOpticsGroup (1-based).
    public var number: Int
    /// rlnOpticsGroupName ("opticsGroupN" when the column is absent, as RELION does).
    public var name: String
    /// rlnImagePixelSize in Å (for micrograph files: rlnMicrographPixelSize; for movies: rlnMicrographOriginalPixelSize).
    public var imagePixelSize: Double
    /// rlnImageSize in pixels (0 when the table has no such column, as in micrograph files).
    public var imageSize: Int
    /// rlnImageDimensionality (2 when absent).
    public var imageDimensionality: Int
    /// rlnVoltage in kV (NaN when the optics table has no rlnVoltage column; see `absentLabels`).
    public var voltage: Double
    /// rlnSphericalAberration (Cs) in mm (NaN when the optics table has no such column).
    public var sphericalAberration: Double
    /// rlnAmplitudeContrast (fraction). When the optics table has no such column this is 0, the
    /// value RELION's CTF::readByGroup assumes (it reads Q0 from the particle row, else from the
    /// optics group, else uses 0); `absentLabels` then lists rlnAmplitudeContrast.
    public var amplitudeContrast: Double
    /// Which of rlnVoltage, rlnSphericalAberration, rlnAmplitudeContrast and the pixel size
    /// (rlnImagePixelSize or its alternatives) the optics table lacks. RELION reads files without
    /// them (its ObservationModel needs only a pixel size, rlnVoltage and rlnSphericalAberration,
    /// and only for CTF work); `requireCTFOptics` checks the ones a CTF needs.
    public var absentLabels: [String] = []
    /// rlnMicrographOriginalPixelSize in Å (detector pixel size before down-sampling), if given.
    public var micrographOriginalPixelSize: Double?
    /// rlnMicrographPixelSize in Å, if given.
    public var micrographPixelSize: Double?
    /// rlnMtfFileName, if given.
    public var mtfFileName: String?
    /// rlnEvenZernike coefficients (empty if absent).
    public var evenZernike: [Double]
    /// rlnOddZernike coefficients (empty if absent).
    public var oddZernike: [Double]
    /// rlnMagMat00…11, if given.
    public var magMatrix: MagnificationMatrix?
    /// Every column of the row as text, by label (including the ones above).
    public var values: [String: String]
    /// The 1-based line of the row in its file, if read from one.
    public var line: Int?

    public init(number: Int, name: String, imagePixelSize: Double, imageSize: Int, imageDimensionality: Int = 2,
                voltage: Double, sphericalAberration: Double, amplitudeContrast: Double,
                micrographOriginalPixelSize: Double? = nil, micrographPixelSize: Double? = nil,
                mtfFileName: String? = nil, evenZernike: [Double] = [], oddZernike: [Double] = [],
                magMatrix: MagnificationMatrix? = nil, values: [String: String] = [:], line: Int? = nil) {
        self.number = number; self.name = name; self.imagePixelSize = imagePixelSize; self.imageSize = imageSize
        self.imageDimensionality = imageDimensionality; self.voltage = voltage
        self.sphericalAberration = sphericalAberration; self.amplitudeContrast = amplitudeContrast
        self.micrographOriginalPixelSize = micrographOriginalPixelSize; self.micrographPixelSize = micrographPixelSize
        self.mtfFileName = mtfFileName; self.evenZernike = evenZernike; self.oddZernike = oddZernike
        self.magMatrix = magMatrix; self.values = values; self.line = line
    }
}

/// Parses a RELION vector value `[a,b,c]` (also accepts `a,b,c` and spaces).
public func parseRelionVector(_ text: String) -> [Double]? {
    var t = Substring(text)
    if t.hasPrefix("[") { t = t.dropFirst() }
    if t.hasSuffix("]") { t = t.dropLast() }
    if t.allSatisfy({ $0 == " " }) { return [] }
    var out: [Double] = []
    for piece in t.split(separator: ",") {
        guard let v = parseSTARDouble(piece.trimmingCharacters(in: " ")) else { return nil }
        out.append(v)
    }
    return out
}

private extension Substring {
    func trimmingCharacters(in c: Character) -> String {
        var s = self
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}

/// The optics groups of a RELION 3.1+ STAR file (its `data_optics` table).
public struct OpticsTable: Sendable {
    public var groups: [OpticsGroup]

    public init(groups: [OpticsGroup]) { self.groups = groups }

    /// Problems found while reading in lenient mode (values that are not numbers, pixel sizes or
    /// box sizes that are not positive); empty in strict mode, which throws instead.
    public var problems: [String] = []

    /// Reads the groups of an optics block; errors name `file` and the line. Only rlnOpticsGroup
    /// is required: a missing rlnVoltage or rlnSphericalAberration is NaN, a missing
    /// rlnAmplitudeContrast is 0 (RELION's assumption), and each group lists them in
    /// `absentLabels`; commands that compute a CTF call `requireCTFOptics`. A missing pixel size
    /// (none of rlnImagePixelSize, rlnMicrographPixelSize, rlnMicrographOriginalPixelSize,
    /// rlnTomoTiltSeriesPixelSize) is an error, as in RELION's ObservationModel. With `lenient`,
    /// unreadable values and a missing pixel size become NaN (0 for integers) and are listed in
    /// `problems` instead of thrown (for `star info`, which describes a broken file).
    public init(block: STARBlock, file: String, lenient: Bool = false) throws {
        var problems: [String] = []
        func fail(_ reason: String, _ line: Int? = nil) -> STARError { .invalid(file: file, line: line, reason: reason) }
        guard block.has("rlnOpticsGroup") else {
            throw STARError.missingLabel(file: file, block: block.name, label: "rlnOpticsGroup")
        }
        if block.rowCount == 0 { throw fail("data_\(block.name) has labels but no optics groups (no rows)") }
        var groups: [OpticsGroup] = []
        var seen: [Int: Int] = [:]
        for r in 0..<block.rowCount {
            let line = block.line(row: r)
            func number(_ label: String) throws -> Double? {
                guard block.has(label) else { return nil }
                let text = block.string(row: r, label)!
                guard let v = parseSTARDouble(text) else {
                    let error = STARError.badValue(file: file, line: block.line(row: r, label), label: label, value: text, expected: "a number")
                    if lenient { problems.append(error.description); return .nan }
                    throw error
                }
                return v
            }
            func integer(_ label: String) throws -> Int? {
                guard block.has(label) else { return nil }
                let text = block.string(row: r, label)!
                guard let v = parseSTARInt(text) else {
                    let error = STARError.badValue(file: file, line: block.line(row: r, label), label: label, value: text, expected: "an integer")
                    if lenient && label != "rlnOpticsGroup" { problems.append(error.description); return 0 }
                    throw error
                }
                return v
            }
            var absent: [String] = []
            func optional(_ label: String, absentValue: Double) throws -> Double {
                guard let v = try number(label) else { absent.append(label); return absentValue }
                return v
            }
            let n = try integer("rlnOpticsGroup")!
            if let previous = seen[n] {
                throw fail("optics group \(n) is defined twice (also on line \(previous))", line)
            }
            seen[n] = line ?? 0
            let imagePixel = try number("rlnImagePixelSize")
            let micrographPixel = try number("rlnMicrographPixelSize")
            let originalPixel = try number("rlnMicrographOriginalPixelSize")
            let tiltSeriesPixel = try number("rlnTomoTiltSeriesPixelSize")
            let pixel: Double
            if let p = imagePixel ?? micrographPixel ?? originalPixel ?? tiltSeriesPixel {
                pixel = p
                if lenient && !(p > 0 && p.isFinite) {
                    let label = imagePixel != nil ? "rlnImagePixelSize" : micrographPixel != nil ? "rlnMicrographPixelSize"
                        : originalPixel != nil ? "rlnMicrographOriginalPixelSize" : "rlnTomoTiltSeriesPixelSize"
                    problems.append("\(file)\(line.map { ":\($0)" } ?? ""): optics group \(n): \(label) \(block.string(row: r, label) ?? "") is not a positive pixel size")
                }
            } else if lenient {
                problems.append("\(file): data_\(block.name) has no pixel size (rlnImagePixelSize, rlnMicrographPixelSize, rlnMicrographOriginalPixelSize or rlnTomoTiltSeriesPixelSize)")
                pixel = .nan
                absent.append("rlnImagePixelSize")
            } else {
                throw fail("data_\(block.name) has no pixel size column (rlnImagePixelSize, rlnMicrographPixelSize, rlnMicrographOriginalPixelSize or rlnTomoTiltSeriesPixelSize)")
            }
            let imageSize = try integer("rlnImageSize") ?? 0
            if lenient && block.has("rlnImageSize") && imageSize <= 0 && parseSTARInt(block.string(row: r, "rlnImageSize") ?? "") != nil {
                problems.append("\(file)\(line.map { ":\($0)" } ?? ""): optics group \(n): rlnImageSize \(imageSize) is not a positive box size")
            }
            var mag: MagnificationMatrix? = nil
            if block.has("rlnMagMat00") || block.has("rlnMagMat11") {
                mag = MagnificationMatrix(m00: try number("rlnMagMat00") ?? 1, m01: try number("rlnMagMat01") ?? 0,
                                          m10: try number("rlnMagMat10") ?? 0, m11: try number("rlnMagMat11") ?? 1)
            }
            func vector(_ label: String) throws -> [Double] {
                guard let text = block.string(row: r, label) else { return [] }
                guard let v = parseRelionVector(text) else {
                    throw STARError.badValue(file: file, line: block.line(row: r, label), label: label, value: text, expected: "a vector [a,b,...]")
                }
                return v
            }
            var values: [String: String] = [:]
            for l in block.labels { values[l] = block.string(row: r, l) }
            let voltage = try optional("rlnVoltage", absentValue: .nan)
            let cs = try optional("rlnSphericalAberration", absentValue: .nan)
            let q0 = try optional("rlnAmplitudeContrast", absentValue: 0)
            var group = OpticsGroup(
                number: n,
                name: block.string(row: r, "rlnOpticsGroupName") ?? "opticsGroup\(n)",
                imagePixelSize: pixel,
                imageSize: imageSize,
                imageDimensionality: try integer("rlnImageDimensionality") ?? 2,
                voltage: voltage,
                sphericalAberration: cs,
                amplitudeContrast: q0,
                micrographOriginalPixelSize: originalPixel,
                micrographPixelSize: micrographPixel,
                mtfFileName: block.string(row: r, "rlnMtfFileName"),
                evenZernike: try vector("rlnEvenZernike"),
                oddZernike: try vector("rlnOddZernike"),
                magMatrix: mag, values: values, line: line)
            group.absentLabels = absent
            groups.append(group)
        }
        self.groups = groups
        self.problems = problems
    }

    /// The optics columns absent from the table (every group has the same columns).
    public var absentLabels: [String] { groups.first?.absentLabels ?? [] }

    /// Throws unless every group has rlnVoltage and rlnSphericalAberration, which a CTF needs
    /// (RELION's ObservationModel refuses an optics table without them). A missing
    /// rlnAmplitudeContrast is accepted: RELION then uses Q0 = 0 (`amplitudeContrastNote`).
    public func requireCTFOptics(file: String) throws {
        let missing = absentLabels.filter { $0 == "rlnVoltage" || $0 == "rlnSphericalAberration" || $0 == "rlnImagePixelSize" }
        if !missing.isEmpty {
            throw STARError.invalid(file: file, line: nil,
                reason: "data_optics has no \(missing.map { "_" + $0 }.joined(separator: " or ")) column, which a CTF needs (RELION's ObservationModel refuses such a file too)")
        }
    }

    /// A sentence for users when the table has no rlnAmplitudeContrast (nil otherwise).
    public var amplitudeContrastNote: String? {
        absentLabels.contains("rlnAmplitudeContrast")
            ? "data_optics has no _rlnAmplitudeContrast column: Q0 = 0 is used for the CTF, as RELION does (CTF::readByGroup takes Q0 from the particle, else the optics group, else 0)"
            : nil
    }

    /// The group numbered `number`, if any.
    public func group(_ number: Int) -> OpticsGroup? {
        groups.first { $0.number == number }
    }
}

/// A RELION image name `N@stack.mrcs`: the 1-based index of an image in a stack file.
public struct ImageName: Sendable, Hashable {
    /// 1-based index into the stack.
    public var index: Int
    /// The stack's path (relative to the project folder, as written).
    public var stackPath: String

    public init(index: Int, stackPath: String) {
        self.index = index
        self.stackPath = stackPath
    }

    /// Parses `000012@Extract/job007/x.mrcs`; nil if the text has no `N@` prefix.
    public init?(_ text: String) {
        guard let at = text.firstIndex(of: "@") else { return nil }
        let digits = text[..<at]
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let i = Int(digits), i >= 1 else { return nil }
        let path = text[text.index(after: at)...]
        guard !path.isEmpty else { return nil }
        index = i
        stackPath = String(path)
    }

    /// The name as RELION writes it: the index zero-padded to six digits, `@`, the path.
    public var text: String {
        let s = String(index)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s + "@" + stackPath
    }
}

/// A RELION 3.1+ particle (or micrograph, or movie) file: the optics table and the table whose
/// rows refer to it through rlnOpticsGroup.
public struct RelionParticleFile: Sendable {
    public var document: STARDocument
    public var optics: OpticsTable
    /// The data_particles (or data_micrographs / data_movies) table.
    public var particles: STARBlock
    /// The file name used in messages.
    public var file: String

    /// Finds and checks the tables; errors: no optics table (or a RELION 3.0 file), optics table
    /// without rows, a row that references an optics group the optics table lacks.
    public init(document: STARDocument, file: String? = nil, lenient: Bool = false) throws {
        let file = file ?? document.name
        self.document = document
        self.file = file
        let dataBlock = ["particles", "micrographs", "movies"].lazy.compactMap { document.block($0) }.first
            ?? document.blocks.first { $0.isLoop && $0.name != "optics" && $0.has("rlnOpticsGroup") }
        guard let opticsBlock = document.block("optics") else {
            if let d = dataBlock {
                throw STARError.invalid(file: file, line: nil,
                    reason: "RELION 3.1 \(d.name) file without a data_optics table (each row's rlnOpticsGroup refers to it)")
            }
            if document.blocks.contains(where: { $0.name == "" || $0.has("rlnImageName") || $0.has("rlnMicrographName") }) {
                throw STARError.invalid(file: file, line: nil,
                    reason: "RELION 3.0 file (no data_optics table); convert it with `angpix star upgrade`")
            }
            throw STARError.missingBlock(file: file, block: "optics")
        }
        guard let data = dataBlock else { throw STARError.missingBlock(file: file, block: "particles") }
        optics = try OpticsTable(block: opticsBlock, file: file, lenient: lenient)
        particles = data
        _ = try opticsGroupIndices()
    }

    /// For each particle, the index in `optics.groups` of its optics group (checked).
    public func opticsGroupIndices() throws -> [Int] {
        guard particles.has("rlnOpticsGroup") else {
            if optics.groups.count == 1 { return [Int](repeating: 0, count: particles.rowCount) }
            throw STARError.missingLabel(file: file, block: particles.name, label: "rlnOpticsGroup")
        }
        let numbers = try particles.ints("rlnOpticsGroup")
        var lookup: [Int: Int] = [:]
        for (i, g) in optics.groups.enumerated() { lookup[g.number] = i }
        var out = [Int](repeating: 0, count: numbers.count)
        if let maxN = lookup.keys.max(), maxN < 1_000_000, (lookup.keys.min() ?? 0) >= 0 {
            var table = [Int](repeating: -1, count: maxN + 1)
            for (k, v) in lookup { table[k] = v }
            for (r, n) in numbers.enumerated() {
                let i = n >= 0 && n <= maxN ? table[n] : -1
                if i < 0 { throw missing(r, n) }
                out[r] = i
            }
        } else {
            for (r, n) in numbers.enumerated() {
                guard let i = lookup[n] else { throw missing(r, n) }
                out[r] = i
            }
        }
        return out
    }

    private func missing(_ row: Int, _ n: Int) -> STARError {
        .invalid(file: file, line: particles.line(row: row, "rlnOpticsGroup"),
                 reason: "\(particles.name == "particles" ? "particle" : "row") references optics group \(n), which the data_optics table lacks (it has \(optics.groups.map { String($0.number) }.joined(separator: ", ")))")
    }
}
