// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A cryoSPARC particle set: the main .cs file of a job's output plus its passthrough .cs files,
// which hold more fields of the same particles matched by `uid` (cryoSPARC's "passthrough"
// outputs; cryosparc-tools joins them the same way). Field names as cryoSPARC writes them
// (see docs/cryosparc.md): blob/…, ctf/…, alignments2D/… or alignments3D/…, location/….
// Also the optics grouping: one group per distinct (exposure group, pixel size, box, voltage,
// Cs, Q0, anisomag, tilt, trefoil, tetrafoil), compared on the exact stored numbers.

import Foundation
import AngpixCore

/// One field as found in the main file or a passthrough.
public struct CSColumn: Sendable {
    public let file: NPYFile
    public let field: NPYField
    /// Row of `file` for each row of the main file; nil when the rows are the same.
    let map: [Int32]?
    public var fileName: String { file.path }

    @inline(__always) public func row(_ i: Int) -> Int { map.map { Int($0[i]) } ?? i }
    @inline(__always) public func double(_ i: Int, _ element: Int = 0) -> Double { file.double(field, row: row(i), element: element) }
    @inline(__always) public func bits(_ i: Int, _ element: Int = 0) -> UInt32 { file.floatBits(field, row: row(i), element: element) }
    @inline(__always) public func uint64(_ i: Int, _ element: Int = 0) -> UInt64 { file.uint64(field, row: row(i), element: element) }
    public func string(_ i: Int) -> String { file.string(field, row: row(i)) }
    /// Whether the text of row `i` equals `previous`; if not, `previous` becomes it (bytes of a
    /// |S field without trailing NULs, UTF-8 of a <U field).
    public func sameText(asRow i: Int, previous: inout [UInt8]) -> Bool {
        let r = row(i)
        if let b = file.bytes(field, row: r) {
            if b.count == previous.count && (b.count == 0 || previous.withUnsafeBytes({ memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 })) { return true }
            previous = Array(b)
            return false
        }
        let s = Array(file.string(field, row: r).utf8)
        if s == previous { return true }
        previous = s
        return false
    }

    /// The value as the decimal it was typed as (see NPYFile.decimal).
    public func decimal(_ i: Int, _ element: Int = 0) -> Double { file.decimal(field, row: row(i), element: element) }
}

/// The main file and its passthroughs, joined on uid.
public final class CryoSPARCParticles: @unchecked Sendable {
    public let main: NPYFile
    public let passthroughs: [NPYFile]
    private var maps: [[Int32]?]
    public var count: Int { main.count }
    /// "alignments3D", "alignments3D_multi" (a 3D classification of cryoSPARC 4.5+: one pose per
    /// class) or "alignments2D" (or nil), and the file they are taken from.
    public private(set) var alignmentPrefix: String?
    public private(set) var alignmentFile: Int = 0

    public convenience init(path: String, passthroughs: [String] = []) throws {
        try self.init(main: NPYFile(path: path), passthroughs: passthroughs.map { try NPYFile(path: $0) })
    }

    public init(main: NPYFile, passthroughs: [NPYFile]) throws {
        self.main = main
        self.passthroughs = passthroughs
        guard main.isStructured else {
            throw CryoSPARCError.badField(file: main.path, field: "<array>", reason: "a plain array of \(main.fields[0].typeString), not records; a .cs file is a structured array")
        }
        maps = [nil]
        for p in passthroughs {
            maps.append(try CryoSPARCParticles.join(main: main, passthrough: p))
        }
        // Alignments: the main file's first (a refinement's own output), 3D before a 3D
        // classification's before 2D, then the passthroughs'.
        let files = [main] + passthroughs
        outer: for (i, f) in files.enumerated() {
            for prefix in ["alignments3D", "alignments3D_multi", "alignments2D"] where f.field(prefix + "/pose") != nil || f.field(prefix + "/shift") != nil {
                alignmentPrefix = prefix
                alignmentFile = i
                break outer
            }
        }
    }

    /// The row of `passthrough` for each row of `main`, by uid; nil if they are the same rows.
    static func join(main: NPYFile, passthrough p: NPYFile) throws -> [Int32]? {
        guard p.isStructured else { throw CryoSPARCError.passthrough(file: p.path, reason: "a plain array, not records") }
        guard let mu = main.field("uid") else {
            throw CryoSPARCError.badField(file: main.path, field: "uid", reason: "missing: passthrough files are matched by uid")
        }
        guard let pu = p.field("uid") else { throw CryoSPARCError.passthrough(file: p.path, reason: "no 'uid' field to match particles by") }
        for (f, file) in [(mu, main.path), (pu, p.path)] where !(f.kind == .uint || f.kind == .int) || f.count != 1 {
            throw CryoSPARCError.badField(file: file, field: "uid", reason: "expected an integer, found \(f.typeDescription)")
        }
        let n = main.count
        if p.count == n {
            var same = true
            for i in 0..<n where main.uint64(mu, row: i) != p.uint64(pu, row: i) { same = false; break }
            if same { return nil }
        }
        guard p.count < Int(Int32.max) else { throw CryoSPARCError.passthrough(file: p.path, reason: "too many records") }
        var where_: [UInt64: Int32] = [:]
        where_.reserveCapacity(p.count)
        for j in 0..<p.count {
            let u = p.uint64(pu, row: j)
            if let earlier = where_.updateValue(Int32(j), forKey: u) {
                throw CryoSPARCError.passthrough(file: p.path, reason: "uid \(u) appears twice (records \(earlier) and \(j))")
            }
        }
        var map = [Int32](repeating: 0, count: n)
        var missing = 0, firstMissing: (Int, UInt64)? = nil
        for i in 0..<n {
            let u = main.uint64(mu, row: i)
            if let j = where_[u] { map[i] = j } else {
                missing += 1
                if firstMissing == nil { firstMissing = (i, u) }
            }
        }
        if let (row, uid) = firstMissing {
            throw CryoSPARCError.passthrough(file: p.path, reason: "\(missing) of the \(n) particles of \(main.path) are not in it (first: record \(row), uid \(uid)); is it the passthrough of another job?")
        }
        return map
    }

    /// The first of main, passthroughs that has `name`.
    public func column(_ name: String) -> CSColumn? {
        let files = [main] + passthroughs
        for (i, f) in files.enumerated() {
            if let field = f.field(name) { return CSColumn(file: f, field: field, map: maps[i]) }
        }
        return nil
    }

    /// An alignment field (`pose`, `shift`, `psize_A`, `split`, `class`…) from the chosen alignments.
    public func alignment(_ name: String) -> CSColumn? {
        guard let prefix = alignmentPrefix else { return nil }
        let f = ([main] + passthroughs)[alignmentFile]
        guard let field = f.field(prefix + "/" + name) else { return nil }
        return CSColumn(file: f, field: field, map: maps[alignmentFile])
    }

    /// A numeric column with exactly `count` scalars, or nil if absent; throws if it has another shape.
    public func numeric(_ name: String, count: Int = 1, alignment: Bool = false) throws -> CSColumn? {
        guard let c = alignment ? self.alignment(name) : column(name) else { return nil }
        guard c.field.isNumeric, c.field.count == count else {
            throw CryoSPARCError.badField(file: c.fileName, field: c.field.name,
                                          reason: "expected \(count == 1 ? "a number" : "\(count) numbers"), found \(c.field.typeDescription)")
        }
        return c
    }

    /// A text column (|S or <U), or nil if absent.
    public func text(_ name: String) throws -> CSColumn? {
        guard let c = column(name) else { return nil }
        guard c.file.isText(c.field), c.field.count == 1 else {
            throw CryoSPARCError.badField(file: c.fileName, field: c.field.name, reason: "expected a string (|S or <U), found \(c.field.typeDescription)")
        }
        return c
    }

    /// The number of classes of `alignments3D_multi` (the length of its class_posterior), or nil.
    public var multiClassCount: Int? {
        guard alignmentPrefix == "alignments3D_multi", let c = alignment("class_posterior"), c.field.isNumeric else { return nil }
        return c.field.count
    }

    /// Whether this looks like a particle file (it has blob/path or ctf fields).
    public var isParticleFile: Bool { column("blob/path") != nil || column("ctf/df1_A") != nil }
}

/// The optics of one group of particles, with the numbers exactly as stored.
public struct CSOptics: Sendable, Codable, Equatable {
    public var exposureGroup: Int?
    public var pixelSize: Double
    public var boxX: Int
    public var boxY: Int
    public var voltage: Double
    public var cs: Double
    public var amplitudeContrast: Double
    public var anisomag: [Double]
    public var tilt: [Double]
    public var trefoil: [Double]
    public var tetrafoil: [Double]
    /// `ctf/shift_A` (Å): a first-order (image-shift) term of the CTF's phase.
    public var ctfShift: [Double]
    /// Particles in the group.
    public var count: Int
    /// The first record of the group (0-based).
    public var firstRecord: Int

    public var hasAnisomag: Bool { anisomag.contains { $0 != 0 } }
    public var hasTilt: Bool { tilt.contains { $0 != 0 } }
    public var hasTrefoil: Bool { trefoil.contains { $0 != 0 } }
    public var hasTetrafoil: Bool { tetrafoil.contains { $0 != 0 } }
    public var hasCtfShift: Bool { ctfShift.contains { $0 != 0 } }
}

/// Particles grouped by optics.
public struct CSOpticsGrouping: Sendable {
    public var groups: [CSOptics]
    /// Index into `groups` for each particle.
    public var groupOfRow: [Int32]
}

struct OpticsKey: Hashable {
    var group: Int64
    var a: SIMD16<UInt32>
    var b: SIMD4<UInt32>
}

extension CryoSPARCParticles {
    /// Groups the particles by their optics. Missing fields count as absent (nil exposure group,
    /// zero aberrations); a missing pixel size, voltage, Cs or Q0 is an error naming the field.
    /// With `rows`, only those records are grouped (the others keep group 0 and count nowhere).
    public func opticsGrouping(rows kept: [Int32]? = nil) throws -> CSOpticsGrouping {
        let n = count
        let file = main.path
        func required(_ name: String, count: Int = 1) throws -> CSColumn {
            guard let c = try numeric(name, count: count) else {
                throw CryoSPARCError.badField(file: file, field: name, reason: "missing (also in the passthrough files); it is needed for the optics")
            }
            return c
        }
        let psize = try required("blob/psize_A")
        let shape = try numeric("blob/shape", count: 2)
        let kv = try required("ctf/accel_kv"), cs = try required("ctf/cs_mm"), q0 = try required("ctf/amp_contrast")
        let exp = try numeric("ctf/exp_group_id")
        let aniso = try numeric("ctf/anisomag", count: 4), tilt = try numeric("ctf/tilt_A", count: 2)
        let tref = try numeric("ctf/trefoil_A", count: 2), tetra = try numeric("ctf/tetra_A", count: 4)
        let ctfShift = try numeric("ctf/shift_A", count: 2)
        var groups: [CSOptics] = []
        var lookup: [OpticsKey: Int32] = [:]
        var rows = [Int32](repeating: 0, count: n)
        var last: OpticsKey? = nil, lastGroup: Int32 = 0
        for k in 0..<(kept?.count ?? n) {
            let i = kept.map { Int($0[k]) } ?? k
            var a = SIMD16<UInt32>(repeating: 0)
            var b = SIMD4<UInt32>(repeating: 0)
            a[0] = psize.bits(i)
            if let s = shape { a[1] = UInt32(truncatingIfNeeded: s.uint64(i, 0)); a[2] = UInt32(truncatingIfNeeded: s.uint64(i, 1)) }
            a[3] = kv.bits(i); a[4] = cs.bits(i); a[5] = q0.bits(i)
            if let m = aniso { for k in 0..<4 { a[6 + k] = m.bits(i, k) } }
            if let t = tilt { a[10] = t.bits(i, 0); a[11] = t.bits(i, 1) }
            if let t = tref { a[12] = t.bits(i, 0); a[13] = t.bits(i, 1) }
            if let t = tetra { a[14] = t.bits(i, 0); a[15] = t.bits(i, 1); b[0] = t.bits(i, 2); b[1] = t.bits(i, 3) }
            if let t = ctfShift { b[2] = t.bits(i, 0); b[3] = t.bits(i, 1) }
            let key = OpticsKey(group: exp.map { Int64(bitPattern: $0.uint64(i)) } ?? -1, a: a, b: b)
            if key == last { rows[i] = lastGroup; groups[Int(lastGroup)].count += 1; continue }
            let g: Int32
            if let found = lookup[key] { g = found } else {
                g = Int32(groups.count)
                lookup[key] = g
                let o = CSOptics(
                    exposureGroup: exp.map { Int($0.uint64(i)) }, pixelSize: psize.decimal(i),
                    boxX: shape.map { Int($0.uint64(i, 1)) } ?? 0, boxY: shape.map { Int($0.uint64(i, 0)) } ?? 0,
                    voltage: kv.decimal(i), cs: cs.decimal(i), amplitudeContrast: q0.decimal(i),
                    anisomag: aniso.map { m in (0..<4).map { m.decimal(i, $0) } } ?? [0, 0, 0, 0],
                    tilt: tilt.map { t in (0..<2).map { t.decimal(i, $0) } } ?? [0, 0],
                    trefoil: tref.map { t in (0..<2).map { t.decimal(i, $0) } } ?? [0, 0],
                    tetrafoil: tetra.map { t in (0..<4).map { t.decimal(i, $0) } } ?? [0, 0, 0, 0],
                    ctfShift: ctfShift.map { t in (0..<2).map { t.decimal(i, $0) } } ?? [0, 0],
                    count: 0, firstRecord: i)
                try CryoSPARCParticles.check(o, row: i, file: file)
                groups.append(o)
            }
            groups[Int(g)].count += 1
            rows[i] = g
            last = key; lastGroup = g
        }
        return CSOpticsGrouping(groups: groups, groupOfRow: rows)
    }

    static func check(_ o: CSOptics, row: Int, file: String) throws {
        func bad(_ what: String) -> CryoSPARCError { .badRecord(file: file, row: row, reason: what) }
        guard o.pixelSize.isFinite, o.pixelSize > 0 else { throw bad("blob/psize_A = \(o.pixelSize) is not a positive pixel size") }
        guard o.voltage.isFinite, o.voltage > 0 else { throw bad("ctf/accel_kv = \(o.voltage) is not a positive voltage") }
        guard o.cs.isFinite else { throw bad("ctf/cs_mm = \(o.cs) is not a number") }
        guard o.amplitudeContrast.isFinite, o.amplitudeContrast >= 0, o.amplitudeContrast < 1 else {
            throw bad("ctf/amp_contrast = \(o.amplitudeContrast) is not in [0, 1)")
        }
        for (name, v) in [("ctf/anisomag", o.anisomag), ("ctf/tilt_A", o.tilt), ("ctf/trefoil_A", o.trefoil), ("ctf/tetra_A", o.tetrafoil), ("ctf/shift_A", o.ctfShift)]
        where v.contains(where: { !$0.isFinite }) {
            throw bad("\(name) = \(v) is not finite")
        }
        if CryoSPARCConventions.relionMagMatrix(anisomag: (o.anisomag[0], o.anisomag[1], o.anisomag[2], o.anisomag[3])) == nil {
            throw bad("ctf/anisomag = \(o.anisomag): I + anisomag is singular")
        }
    }
}
