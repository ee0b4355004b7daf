// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// cryoSPARC particles (.cs + passthroughs) → a RELION 3.1+ particle STAR file (data_optics +
// data_particles, "# version 30001"), with the conventions of CryoSPARCConventions.swift:
// one optics group per distinct optics (CryoSPARCParticles.opticsGrouping), rlnImageName
// `idx+1@path`, Euler angles from the pose, origins in Å at the alignments' pixel size, defocus,
// phase shift, split + 1 → rlnRandomSubset, class + 1 → rlnClassNumber, anisomag → rlnMagMat,
// aberrations → rlnBeamTiltX/Y, rlnOddZernike, rlnEvenZernike. Labels and units as RELION's
// src/metadata_label.h defines them. The STAR text is formatted here directly (one pass over the
// memory-mapped records) and written atomically.

import Foundation
import AngpixCore
import AngpixSTAR

/// How `CryoSPARCToRelion` writes what cryoSPARC leaves open (paths, stack names, Cs, classes).
public struct CryoSPARCToRelionOptions: Sendable {
    /// Prepended to every blob/path and micrograph path (e.g. the cryoSPARC project folder).
    public var stackPrefix: String = ""
    /// Write `.mrcs` for stacks named `.mrc` (the files must then be linked or renamed).
    public var mrcsSuffix: Bool = false
    /// Write stack names below this folder instead (`linkFolder/blob/path`, `.mrc` → `.mrcs`),
    /// where `CryoSPARCStackLinks` makes a symbolic link to each stack.
    public var linkFolder: String? = nil
    /// Write this Cs (mm) as rlnSphericalAberration and the difference to ctf/cs_mm as Z40 (plus
    /// Z20, Z00 so the CTF is unchanged), for `angpix calibrate zernike`.
    public var csNominal: Double? = nil
    /// rlnCoordinateY = (1 − center_y_frac) × height instead of center_y_frac × height, for
    /// micrographs stored upside down with respect to the ones cryoSPARC picked on.
    public var flipCoordinateY: Bool = false
    /// Keep only the particles of these classes (1-based, as rlnClassNumber); empty: all.
    public var classes: Set<Int> = []
    public init(stackPrefix: String = "", mrcsSuffix: Bool = false, linkFolder: String? = nil, csNominal: Double? = nil,
                flipCoordinateY: Bool = false, classes: Set<Int> = []) {
        self.stackPrefix = stackPrefix; self.mrcsSuffix = mrcsSuffix; self.linkFolder = linkFolder; self.csNominal = csNominal
        self.flipCoordinateY = flipCoordinateY; self.classes = classes
    }
}

/// One optics group written: its number, name, the cryoSPARC optics and the RELION values.
public struct RelionOpticsGroupOut: Sendable, Codable {
    public var number: Int
    public var name: String
    public var optics: CSOptics
    public var sphericalAberration: Double
    public var magMatrix: [Double]?
    public var beamTilt: [Double]?
    public var oddZernike: [Double]?
    public var evenZernike: [Double]?
}

/// What a conversion wrote: counts, optics groups, labels, warnings and the conventions used.
public struct CryoSPARCToRelionResult: Sendable, Codable {
    /// Particles written (after `classes`).
    public var particles: Int
    /// Particles in the input.
    public var inputParticles: Int
    public var groups: [RelionOpticsGroupOut]
    /// "alignments3D", "alignments2D" or nil, and the file they came from.
    public var alignments: String?
    public var alignmentFile: String?
    public var particleLabels: [String]
    public var warnings: [String]
    /// The conventions used, one sentence each.
    public var assumptions: [String]
}

/// cryoSPARC particles → a RELION 3.1+ particle STAR file.
public enum CryoSPARCToRelion {
    /// Converts and writes `output` atomically (never over an input: `policy.inputs`).
    public static func convert(_ set: CryoSPARCParticles, options: CryoSPARCToRelionOptions = .init(),
                               output: String, policy: OutputPolicy) throws -> CryoSPARCToRelionResult {
        let plan = try Plan(set, options: options)
        let writer = try AtomicFileWriter(destination: output, policy: policy)
        do {
            try plan.write(to: writer)
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
        return plan.result
    }

    /// Checks everything the conversion decides before writing (fields, classes, optics) and
    /// returns the result it would have, without formatting the particles.
    public static func starPlanCheck(_ set: CryoSPARCParticles, options: CryoSPARCToRelionOptions = .init()) throws -> CryoSPARCToRelionResult {
        try Plan(set, options: options).result
    }

    /// The STAR text (for small sets and tests).
    public static func starText(_ set: CryoSPARCParticles, options: CryoSPARCToRelionOptions = .init()) throws -> (String, CryoSPARCToRelionResult) {
        let plan = try Plan(set, options: options)
        var out = TextOut()
        try plan.write { out.bytes.append(contentsOf: UnsafeRawBufferPointer(start: $0, count: $1)) }
        return (String(decoding: out.bytes, as: UTF8.self), plan.result)
    }

    struct TextOut { var bytes: [UInt8] = [] }
}

/// Everything decided before writing: columns, groups, labels.
struct Plan {
    let set: CryoSPARCParticles
    let options: CryoSPARCToRelionOptions
    let grouping: CSOpticsGrouping
    var result: CryoSPARCToRelionResult
    let file: String
    // Columns.
    let blobPath: CSColumn, blobIdx: CSColumn
    let micrograph: CSColumn?
    let df1: CSColumn, df2: CSColumn, dfAngle: CSColumn
    let phase: CSColumn?, bfactor: CSColumn?, scale: CSColumn?
    let pose: CSColumn?, shift: CSColumn?, alignPsize: CSColumn?, split: CSColumn?, klass: CSColumn?
    let is3D: Bool
    let writeSplit: Bool
    /// Coordinates: center_x_frac, center_y_frac, micrograph_shape (height, width).
    let centerX: CSColumn?, centerY: CSColumn?, micrographShape: CSColumn?
    /// alignments3D_multi: the class of each record (0-based), the number of classes.
    let bestClass: [Int32]?
    let classCount: Int
    /// The records written, in order (nil: all).
    let rows: [Int32]?

    /// Index of the most probable class of record `i` (the first of equal posteriors, as numpy's argmax).
    static func argmax(_ c: CSColumn, _ i: Int, _ k: Int) -> Int {
        var best = 0, value = -Double.infinity
        for j in 0..<k { let v = c.double(i, j); if v > value { value = v; best = j } }
        return best
    }

    /// The element of a per-class field (one number per class) for record `i`: its class's; 0 for scalar fields.
    @inline(__always) static func element(_ c: CSColumn, _ best: [Int32]?, _ i: Int) -> Int {
        guard let best, c.field.count > 1 else { return 0 }
        return Int(best[i])
    }

    /// rlnClassNumber of record `i`: the class field (its class's element) + 1, else the most probable class + 1.
    @inline(__always) static func classNumber(_ klass: CSColumn?, _ best: [Int32]?, _ i: Int) -> Int {
        if let klass { return Int(klass.uint64(i, element(klass, best, i))) + 1 }
        return Int(best?[i] ?? 0) + 1
    }

    init(_ set: CryoSPARCParticles, options: CryoSPARCToRelionOptions) throws {
        self.set = set
        self.options = options
        file = set.main.path
        func need(_ c: CSColumn?, _ name: String) throws -> CSColumn {
            guard let c else { throw CryoSPARCError.badField(file: set.main.path, field: name, reason: "missing (in the file and its passthroughs); a RELION particle file needs it") }
            return c
        }
        blobPath = try need(set.text("blob/path"), "blob/path")
        blobIdx = try need(set.numeric("blob/idx"), "blob/idx")
        micrograph = try set.text("location/micrograph_path")
        var warnings: [String] = []
        var assumptions: [String] = []
        centerX = try set.numeric("location/center_x_frac")
        centerY = try set.numeric("location/center_y_frac")
        let mshape = try set.numeric("location/micrograph_shape", count: 2)
        if centerX != nil && centerY != nil && mshape == nil {
            warnings.append("location/center_x_frac and center_y_frac without location/micrograph_shape: no coordinates written")
        }
        micrographShape = centerX != nil && centerY != nil ? mshape : nil
        df1 = try need(set.numeric("ctf/df1_A"), "ctf/df1_A")
        df2 = try need(set.numeric("ctf/df2_A"), "ctf/df2_A")
        dfAngle = try need(set.numeric("ctf/df_angle_rad"), "ctf/df_angle_rad")
        phase = try set.numeric("ctf/phase_shift_rad")
        bfactor = try set.numeric("ctf/bfactor")
        scale = try set.numeric("ctf/scale")
        is3D = set.alignmentPrefix == "alignments3D" || set.alignmentPrefix == "alignments3D_multi"
        var best: [Int32]? = nil
        var k = 1
        if let prefix = set.alignmentPrefix {
            if prefix == "alignments3D_multi" {
                // One pose, shift (and possibly psize_A, class) per class; the most probable class is used.
                guard let post = set.alignment("class_posterior"), post.field.isNumeric, post.field.count >= 1 else {
                    throw CryoSPARCError.badField(file: set.main.path, field: "alignments3D_multi/class_posterior",
                                                  reason: "missing or not numeric: the class of each particle cannot be chosen")
                }
                k = post.field.count
                pose = try set.numeric("pose", count: 3 * k, alignment: true)
                shift = try set.numeric("shift", count: 2 * k, alignment: true)
                func either(_ name: String) throws -> CSColumn? {
                    guard let c = set.alignment(name) else { return nil }
                    guard c.field.isNumeric, c.field.count == 1 || c.field.count == k else {
                        throw CryoSPARCError.badField(file: c.fileName, field: c.field.name, reason: "expected 1 or \(k) numbers (one per class), found \(c.field.typeDescription)")
                    }
                    return c
                }
                alignPsize = try either("psize_A")
                split = try either("split")
                klass = try either("class")
                var b = [Int32](repeating: 0, count: set.count)
                for i in 0..<set.count { b[i] = Int32(Plan.argmax(post, i, k)) }
                best = b
                assumptions.append("alignments3D_multi: each particle takes the pose and shift of its most probable class (the largest class_posterior; the first of equal ones), rlnClassNumber = that class + 1")
            } else {
                pose = try set.numeric("pose", count: is3D ? 3 : 1, alignment: true)
                shift = try set.numeric("shift", count: 2, alignment: true)
                alignPsize = try set.numeric("psize_A", alignment: true)
                split = try set.numeric("split", alignment: true)
                klass = try set.numeric("class", alignment: true)
            }
            if pose == nil { warnings.append("\(prefix)/pose is missing: no angles written") }
            if shift != nil && alignPsize == nil {
                warnings.append("\(prefix)/psize_A is missing: shifts taken to be in pixels of blob/psize_A")
            }
        } else {
            pose = nil; shift = nil; alignPsize = nil; split = nil; klass = nil
            warnings.append("no alignments2D, alignments3D or alignments3D_multi fields: no angles or origins written")
        }
        bestClass = best
        classCount = k
        // Classes to keep.
        var kept: [Int32]? = nil
        if !options.classes.isEmpty {
            guard klass != nil || best != nil else {
                throw CryoSPARCError.badField(file: set.main.path, field: "\(set.alignmentPrefix ?? "alignments")/class",
                                              reason: "missing: the particles cannot be selected by class")
            }
            var r: [Int32] = []
            for i in 0..<set.count where options.classes.contains(Plan.classNumber(klass, best, i)) { r.append(Int32(i)) }
            kept = r
        }
        rows = kept
        grouping = try set.opticsGrouping(rows: kept)
        // rlnRandomSubset only when both halves occur (RELION refuses an empty half).
        var halves = Set<UInt64>()
        if let split {
            for r in 0..<(kept?.count ?? set.count) {
                let i = kept.map { Int($0[r]) } ?? r
                halves.insert(split.uint64(i, Plan.element(split, best, i))); if halves.count > 1 { break }
            }
        }
        writeSplit = halves.count > 1
        if split != nil && !writeSplit { warnings.append("\(set.alignmentPrefix!)/split holds one value only: rlnRandomSubset not written") }

        // Optics groups.
        var groups: [RelionOpticsGroupOut] = []
        var nameCount: [String: Int] = [:]
        for (k, o) in grouping.groups.enumerated() {
            var base = o.exposureGroup.map { "exp_group_\($0)" } ?? "optics_group_\(k + 1)"
            nameCount[base, default: 0] += 1
            if nameCount[base]! > 1 { base += "_\(nameCount[base]!)" }
            let lambda = CryoSPARCConventions.wavelength(kilovolts: o.voltage)
            let csOut = options.csNominal ?? o.cs
            var g = RelionOpticsGroupOut(number: k + 1, name: base, optics: o, sphericalAberration: csOut)
            if o.hasAnisomag {
                let m = CryoSPARCConventions.relionMagMatrix(anisomag: (o.anisomag[0], o.anisomag[1], o.anisomag[2], o.anisomag[3]))!
                g.magMatrix = [m.0, m.1, m.2, m.3]
            }
            var odd = [Double](repeating: 0, count: 6)
            if o.hasTilt {
                if csOut > 0 {
                    g.beamTilt = [CryoSPARCConventions.beamTiltMilliradians(tiltA: o.tilt[0], csMillimetres: csOut),
                                  CryoSPARCConventions.beamTiltMilliradians(tiltA: o.tilt[1], csMillimetres: csOut)]
                } else {
                    odd = CryoSPARCConventions.oddZernike(tiltA: (o.tilt[0], o.tilt[1]), trefoilA: (0, 0), wavelength: lambda)
                    warnings.append("optics group \(k + 1) (\(base)): Cs is \(csOut) mm, so ctf/tilt_A is written as odd Zernike terms, not as rlnBeamTiltX/Y")
                }
            }
            if o.hasTrefoil {
                let t = CryoSPARCConventions.oddZernike(tiltA: (0, 0), trefoilA: (o.trefoil[0], o.trefoil[1]), wavelength: lambda)
                for i in 0..<6 { odd[i] += t[i] }
            }
            if o.hasCtfShift {
                let t = CryoSPARCConventions.oddZernike(shiftA: (o.ctfShift[0], o.ctfShift[1]))
                for i in 0..<6 { odd[i] += t[i] }
                warnings.append("optics group \(k + 1) (\(base)): ctf/shift_A = \(o.ctfShift) Å written as the first-order odd Zernike terms Z(1,1), Z(−1,1) with angpix's assumed sign (cryoSPARC does not publish it; see docs/cryosparc.md)")
            }
            if odd.contains(where: { $0 != 0 }) { g.oddZernike = odd }
            let deltaCs = options.csNominal.map { o.cs - $0 } ?? 0
            if o.hasTetrafoil || deltaCs != 0 {
                g.evenZernike = CryoSPARCConventions.evenZernike(
                    tetraA: (o.tetrafoil[0], o.tetrafoil[1], o.tetrafoil[2], o.tetrafoil[3]), deltaCs: deltaCs, wavelength: lambda)
            }
            groups.append(g)
        }
        // Warnings about the optics.
        for (k, g) in groups.enumerated() {
            let o = g.optics
            if o.boxX != o.boxY { warnings.append("optics group \(k + 1) (\(g.name)): the particles are \(o.boxX) × \(o.boxY) pixels; RELION needs square boxes") }
            if o.hasTrefoil || o.hasTetrafoil {
                warnings.append("optics group \(k + 1) (\(g.name)): trefoil/tetrafoil converted with angpix's assumed basis (cryoSPARC does not publish it; see docs/cryosparc.md): check before relying on them")
            }
        }
        let byExp = Dictionary(grouping: groups, by: { $0.optics.exposureGroup ?? -1 })
        for (e, gs) in byExp.sorted(by: { $0.key < $1.key }) where gs.count > 1 && e >= 0 {
            warnings.append("exposure group \(e) holds particles of \(gs.count) different optics (pixel size, box, voltage, Cs, Q0 or aberrations differ): written as optics groups \(gs.map { String($0.number) }.joined(separator: ", "))")
        }
        let written = kept?.count ?? set.count
        @inline(__always) func record(_ r: Int) -> Int { kept.map { Int($0[r]) } ?? r }
        if let ap = alignPsize {
            var differ = 0, first: (Int, Double, Double)? = nil
            for r in 0..<written {
                let i = record(r)
                let a = Double(Float(ap.double(i, Plan.element(ap, best, i)))), b = Double(Float(grouping.groups[Int(grouping.groupOfRow[i])].pixelSize))
                if abs(a - b) > 1e-5 * b { differ += 1; if first == nil { first = (i, ap.decimal(i, Plan.element(ap, best, i)), grouping.groups[Int(grouping.groupOfRow[i])].pixelSize) } }
            }
            if let (row, a, b) = first {
                warnings.append("\(differ) particles were aligned at another pixel size than their images (record \(row): \(set.alignmentPrefix!)/psize_A \(a) Å, blob/psize_A \(b) Å): their shifts are converted at the alignments' pixel size (pyem's csparc2star uses the images')")
            }
        }
        if let sign = try set.numeric("blob/sign") {
            var negative = 0
            for r in 0..<written where sign.double(record(r)) < 0 { negative += 1 }
            if negative > 0 {
                warnings.append("\(negative) particles have blob/sign −1 (dark particles on a light background, as cryoSPARC extracts them); RELION's own extraction inverts the contrast to white particles: check the contrast of the stacks")
            }
        }
        if !options.mrcsSuffix && options.linkFolder == nil {
            var mrc = 0
            var seen = Set<[UInt8]>()
            var last: [UInt8] = []
            for r in 0..<written {
                if blobPath.sameText(asRow: record(r), previous: &last) && r > 0 { continue }
                if seen.insert(last).inserted, last.count >= 4, Array(last.suffix(4)) == Array(".mrc".utf8) { mrc += 1 }
            }
            if mrc > 0 {
                warnings.append("\(mrc) of \(seen.count) stacks are named .mrc; RELION reads N@stack as an image of a stack for .mrcs files: write links named .mrcs with --mrcs-links DIR, or .mrcs names with --mrcs and make the links yourself")
            }
        }
        assumptions.append(contentsOf: [
            "angles: RELION's A = Rᵀ with R the rotation matrix of the cryoSPARC pose (rotation vector), as pyem's expmap + rot2euler; 2D: rlnAnglePsi = pose",
            "origins: rlnOriginX/YAngst = shift (pixels) × alignments psize_A, same sign as cryoSPARC (as pyem)",
            "defocus: rlnDefocusU/V = df1_A/df2_A, rlnDefocusAngle = df_angle_rad in degrees, rlnPhaseShift = phase_shift_rad in degrees",
            "magnification: rlnMagMat = (I + anisomag)⁻ᵀ (anisomag is the real-space distortion minus I; RELION's matrix acts on frequencies)",
            "beam tilt: rlnBeamTilt (mrad) = tilt_A / Cs (tilt_A = Cs · tilt, pyem's relation)",
            "rlnRandomSubset = split + 1, rlnClassNumber = class + 1, rlnImageName = (blob/idx + 1)@blob/path",
        ])
        if options.csNominal != nil {
            assumptions.append("Cs: rlnSphericalAberration = --cs-nominal; ctf/cs_mm − nominal written as Z40 (7th rlnEvenZernike, with Z20 and Z00 so the CTF is unchanged)")
        }
        if micrographShape != nil {
            assumptions.append(options.flipCoordinateY
                ? "coordinates: rlnCoordinateX = center_x_frac × width, rlnCoordinateY = (1 − center_y_frac) × height (--flip-y: micrographs upside down with respect to cryoSPARC's), pixels of the micrograph; micrograph_shape is (height, width)"
                : "coordinates: rlnCoordinateX = center_x_frac × width, rlnCoordinateY = center_y_frac × height, pixels of the micrograph cryoSPARC picked on (location/micrograph_path); micrograph_shape is (height, width)")
        }
        if let classes = Optional(options.classes), !classes.isEmpty {
            if written == 0 { warnings.append("no particle is in class \(classes.sorted().map(String.init).joined(separator: ", ")): the file has no particles") }
        }
        var labels = ["rlnImageName"]
        if micrograph != nil { labels.append("rlnMicrographName") }
        if micrographShape != nil { labels += ["rlnCoordinateX", "rlnCoordinateY"] }
        labels += ["rlnOpticsGroup", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"]
        if phase != nil { labels.append("rlnPhaseShift") }
        if bfactor != nil { labels.append("rlnCtfBfactor") }
        if scale != nil { labels.append("rlnCtfScalefactor") }
        if pose != nil { labels += is3D ? ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"] : ["rlnAnglePsi"] }
        if shift != nil { labels += ["rlnOriginXAngst", "rlnOriginYAngst"] }
        if writeSplit { labels.append("rlnRandomSubset") }
        if klass != nil || best != nil { labels.append("rlnClassNumber") }
        result = CryoSPARCToRelionResult(particles: written, inputParticles: set.count, groups: groups, alignments: set.alignmentPrefix,
                                         alignmentFile: set.alignmentPrefix.map { _ in ([set.main] + set.passthroughs)[set.alignmentFile].path },
                                         particleLabels: labels, warnings: warnings, assumptions: assumptions)
    }

    func write(to writer: AtomicFileWriter) throws {
        try write { p, n in try writer.write(UnsafeRawBufferPointer(start: p, count: n)) }
    }

    /// Formats the whole file, handing out pieces of about 1 MB.
    func write(_ sink: (UnsafeRawPointer, Int) throws -> Void) throws {
        var out = OutBuffer()
        defer { out.free() }
        func flushIfFull() throws {
            if out.count > 1 << 20 { try sink(out.base, out.count); out.count = 0 }
        }
        let groups = result.groups
        out.append("\n# version 30001\n\ndata_optics\n\nloop_\n")
        var opticsLabels = ["rlnOpticsGroupName", "rlnOpticsGroup", "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality",
                            "rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast"]
        let anyMag = groups.contains { $0.magMatrix != nil }, anyTilt = groups.contains { $0.beamTilt != nil }
        let anyOdd = groups.contains { $0.oddZernike != nil }, anyEven = groups.contains { $0.evenZernike != nil }
        if anyMag { opticsLabels += ["rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11"] }
        if anyTilt { opticsLabels += ["rlnBeamTiltX", "rlnBeamTiltY"] }
        if anyOdd { opticsLabels.append("rlnOddZernike") }
        if anyEven { opticsLabels.append("rlnEvenZernike") }
        for (i, l) in opticsLabels.enumerated() { out.append("_\(l) #\(i + 1)\n") }
        func vector(_ v: [Double]) -> String { "[" + v.map { formatSTARNumber($0, decimals: 12) }.joined(separator: ",") + "]" }
        for g in groups {
            var cells = [g.name, String(g.number), formatSTARNumber(g.optics.pixelSize, decimals: 12), String(g.optics.boxX), "2",
                         formatSTARNumber(g.optics.voltage, decimals: 12), formatSTARNumber(g.sphericalAberration, decimals: 12), formatSTARNumber(g.optics.amplitudeContrast, decimals: 12)]
            if anyMag { cells += (g.magMatrix ?? [1, 0, 0, 1]).map { formatSTARNumber($0, decimals: 9) } }
            if anyTilt { cells += (g.beamTilt ?? [0, 0]).map { formatSTARNumber($0, decimals: 9) } }
            if anyOdd { cells.append(vector(g.oddZernike ?? [Double](repeating: 0, count: 6))) }
            if anyEven { cells.append(vector(g.evenZernike ?? [Double](repeating: 0, count: 9))) }
            out.append(cells.joined(separator: " ") + "\n")
        }
        out.append("\n\n# version 30001\n\ndata_particles\n\nloop_\n")
        for (i, l) in result.particleLabels.enumerated() { out.append("_\(l) #\(i + 1)\n") }

        let n = set.count
        // Paths: formatted once per distinct stack.
        var stackNames: [[UInt8]: [UInt8]] = [:], micrographNames: [[UInt8]: [UInt8]] = [:]
        let prefix = Array(options.stackPrefix.utf8)
        let links = options.linkFolder.map { Array(($0.hasSuffix("/") ? $0 : $0 + "/").utf8) }
        func pathBytes(_ raw: [UInt8], stack: Bool) -> [UInt8] {
            var p = raw
            if p.first == UInt8(ascii: ">") { p.removeFirst() }
            let rename = stack && (options.mrcsSuffix || links != nil)
            if rename, p.count >= 4, Array(p.suffix(4)) == Array(".mrc".utf8) { p.append(UInt8(ascii: "s")) }
            let path = (stack ? links ?? prefix : prefix) + p
            if path.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x22 || $0 == 0x27 }) {
                // STAR needs quotes around values with blanks; RELION reads "…".
                return [0x22] + path + [0x22]
            }
            return path
        }
        // Consecutive particles mostly share their stack and micrograph: the text is compared with
        // the previous row's before any lookup.
        func text(_ c: CSColumn, _ i: Int, _ raw: inout [UInt8], _ formatted: inout [UInt8], stack: Bool) -> [UInt8] {
            if c.sameText(asRow: i, previous: &raw) { return formatted }
            if let done = stack ? stackNames[raw] : micrographNames[raw] { formatted = done; return done }
            formatted = pathBytes(raw, stack: stack)
            if stack { stackNames[raw] = formatted } else { micrographNames[raw] = formatted }
            return formatted
        }
        var rawPath: [UInt8] = [], donePath: [UInt8] = [], rawMic: [UInt8] = [], doneMic: [UInt8] = []
        if n > 0 {
            _ = blobPath.sameText(asRow: 0, previous: &rawPath); donePath = pathBytes(rawPath, stack: true)
            if let m = micrograph { _ = m.sameText(asRow: 0, previous: &rawMic); doneMic = pathBytes(rawMic, stack: false) }
        }
        var lastAlignBits: UInt32 = 0, lastAlignPixel = 0.0
        if let ap = alignPsize, n > 0 { lastAlignBits = ap.bits(0); lastAlignPixel = ap.decimal(0) }
        let count = rows?.count ?? n
        for r in 0..<count {
            let i = rows.map { Int($0[r]) } ?? r
            let cls = bestClass.map { Int($0[i]) } ?? 0
            let idx = blobIdx.uint64(i)
            out.appendImageIndex(Int(idx) + 1)
            out.append(byte: UInt8(ascii: "@"))
            out.append(text(blobPath, i, &rawPath, &donePath, stack: true))
            if let m = micrograph { out.append(byte: 0x20); out.append(text(m, i, &rawMic, &doneMic, stack: false)) }
            if let shape = micrographShape, let cx = centerX, let cy = centerY {
                let height = shape.double(i, 0), width = shape.double(i, 1)
                let fx = cx.double(i), fy = cy.double(i)
                let x = fx * width, y = (options.flipCoordinateY ? 1 - fy : fy) * height
                guard x.isFinite, y.isFinite, height > 0, width > 0 else {
                    throw CryoSPARCError.badRecord(file: cx.fileName, row: cx.row(i), reason: "coordinates (\(fx), \(fy)) × micrograph_shape (\(height), \(width)) are not finite positions")
                }
                out.appendNumber(x, decimals: 3); out.appendNumber(y, decimals: 3)
            }
            out.append(byte: 0x20)
            out.appendInt(Int(grouping.groupOfRow[i]) + 1)
            let u = df1.double(i), v = df2.double(i), a = dfAngle.double(i)
            guard u.isFinite, v.isFinite, a.isFinite else {
                throw CryoSPARCError.badRecord(file: file, row: i, reason: "defocus (\(u), \(v), \(a)) is not finite")
            }
            out.appendNumber(u); out.appendNumber(v); out.appendNumber(a * 180 / .pi)
            if let phase { out.appendNumber(phase.double(i) * 180 / .pi) }
            if let bfactor { out.appendNumber(bfactor.double(i)) }
            if let scale { out.appendNumber(scale.double(i)) }
            if let pose {
                if is3D {
                    let e = 3 * cls
                    let ang = CryoSPARCConventions.relionAngles(pose: (pose.double(i, e), pose.double(i, e + 1), pose.double(i, e + 2)))
                    guard ang.rot.isFinite, ang.tilt.isFinite, ang.psi.isFinite else {
                        throw CryoSPARCError.badRecord(file: pose.fileName, row: pose.row(i), reason: "\(pose.field.name) is not finite")
                    }
                    out.appendNumber(ang.rot); out.appendNumber(ang.tilt); out.appendNumber(ang.psi)
                } else {
                    out.appendNumber(pose.double(i) * 180 / .pi)
                }
            }
            if let shift {
                var px = grouping.groups[Int(grouping.groupOfRow[i])].pixelSize
                if let ap = alignPsize {
                    let e = Plan.element(ap, bestClass, i)
                    let bits = ap.bits(i, e)
                    if bits != lastAlignBits { lastAlignBits = bits; lastAlignPixel = ap.decimal(i, e) }
                    px = lastAlignPixel
                }
                let x = shift.double(i, 2 * cls) * px, y = shift.double(i, 2 * cls + 1) * px
                guard x.isFinite, y.isFinite else {
                    throw CryoSPARCError.badRecord(file: shift.fileName, row: shift.row(i), reason: "shift or psize_A is not finite")
                }
                out.appendNumber(x); out.appendNumber(y)
            }
            if writeSplit, let split { out.append(byte: 0x20); out.appendInt(Int(split.uint64(i, Plan.element(split, bestClass, i))) + 1) }
            if klass != nil || bestClass != nil { out.append(byte: 0x20); out.appendInt(Plan.classNumber(klass, bestClass, i)) }
            out.append(byte: 0x0A)
            if r & 1023 == 0 { try flushIfFull() }
        }
        out.append("\n")
        try sink(out.base, out.count)
        out.count = 0
    }
}

/// A number as angpix writes STAR values: fixed point with `decimals` digits, trailing zeros
/// removed (at least one digit after the point); exponent form for very large or tiny values.
public func formatSTARNumber(_ x: Double, decimals: Int = 6) -> String {
    var b = OutBuffer()
    defer { b.free() }
    b.appendNumber(x, decimals: decimals, space: false)
    return String(decoding: UnsafeRawBufferPointer(start: b.base, count: b.count), as: UTF8.self)
}

/// A growable byte buffer with fast number formatting.
struct OutBuffer {
    var base: UnsafeMutablePointer<UInt8>
    var count = 0
    var capacity: Int

    init(capacity: Int = 1 << 21) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }
    func free() { base.deallocate() }

    @inline(__always) mutating func reserve(_ n: Int) {
        if count + n <= capacity { return }
        var c = capacity * 2
        while c < count + n { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b; capacity = c
    }
    @inline(__always) mutating func append(byte: UInt8) { reserve(1); base[count] = byte; count += 1 }
    mutating func append(_ bytes: [UInt8]) {
        reserve(bytes.count)
        bytes.withUnsafeBufferPointer { (base + count).update(from: $0.baseAddress!, count: $0.count) }
        count += bytes.count
    }
    mutating func append(_ s: String) { append(Array(s.utf8)) }

    @inline(__always) mutating func appendUnsigned(_ v: UInt64, minDigits: Int = 1) {
        reserve(24)
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &tmp) { t in
            repeat { t[n] = UInt8(48 + x % 10); x /= 10; n += 1 } while x > 0
            while n < minDigits { t[n] = 48; n += 1 }
            for k in 0..<n { base[count + k] = t[n - 1 - k] }
        }
        count += n
    }
    mutating func appendInt(_ v: Int) {
        if v < 0 { append(byte: UInt8(ascii: "-")); appendUnsigned(UInt64(-v)) } else { appendUnsigned(UInt64(v)) }
    }
    /// RELION's six-digit zero-padded image index.
    mutating func appendImageIndex(_ v: Int) { appendUnsigned(UInt64(v), minDigits: 6) }

    static let powers: [Double] = (0...15).map { pow(10, Double($0)) }

    /// " x" (a space, then the number).
    @inline(__always) mutating func appendNumber(_ x: Double, decimals: Int = 6, space: Bool = true) {
        if space { append(byte: 0x20) }
        let scale = OutBuffer.powers[decimals]
        let a = abs(x)
        guard x.isFinite, a * scale < 9e15, a == 0 || a >= 1e-4 || decimals > 6 else {
            append(x.isFinite ? String(format: "%.\(min(decimals, 9))e", x) : (x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf")))
            return
        }
        let r = (a * scale).rounded()
        if r == 0 { append(byte: 48); append(byte: 46); append(byte: 48); return }
        if x < 0 { append(byte: UInt8(ascii: "-")) }
        let ri = UInt64(r), s = UInt64(scale)
        appendUnsigned(ri / s)
        append(byte: 46)
        var frac = ri % s
        var digits = decimals
        if frac == 0 { append(byte: 48); return }
        while frac % 10 == 0 { frac /= 10; digits -= 1 }
        appendUnsigned(frac, minDigits: digits)
    }
}
