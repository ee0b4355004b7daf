// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Test helpers: a small writer of structured NumPy .npy files (the layout of numpy/lib/format.py:
// magic, version, header length, a Python dict header padded to 64 bytes, packed records), and a
// synthetic cryoSPARC particle set with known orientations, shifts, defocus and optics that
// writes main and passthrough .cs files the way cryoSPARC lays them out (field names as in
// cryosparc-tools' test data, tests/conftest.py).

import Foundation
import AngpixCore
import AngpixCryoSPARC

/// A cell of a record.
enum NPYCell {
    case numbers([Double])
    case integers([UInt64])
    case text(String)
}

/// A structured array to write as .npy.
struct NPYTestArray {
    /// (name, numpy type string, shape)
    var fields: [(name: String, type: String, shape: [Int])]
    var rows: [[String: NPYCell]] = []
    var version: UInt8 = 1

    init(_ fields: [(String, String, [Int])]) { self.fields = fields.map { ($0.0, $0.1, $0.2) } }

    static func size(_ type: String) -> (kind: Character, size: Int, big: Bool) {
        var s = Substring(type)
        var big = false
        if let c = s.first, "<>|=".contains(c) { big = c == ">"; s = s.dropFirst() }
        let kind = s.first!
        let n = Int(s.dropFirst()) ?? 1
        return (kind, kind == "U" ? 4 * n : n, big)
    }

    func descr() -> String {
        "[" + fields.map { f in
            let shape = f.shape.isEmpty ? "" : ", (" + f.shape.map(String.init).joined(separator: ", ") + (f.shape.count == 1 ? ",)" : ")")
            return "('\(f.name)', '\(f.type)'\(shape))"
        }.joined(separator: ", ") + "]"
    }

    func header(descr: String? = nil, shape: String? = nil) -> String {
        "{'descr': \(descr ?? self.descr()), 'fortran_order': False, 'shape': \(shape ?? "(\(rows.count),)"), }"
    }

    /// The file's bytes; `headerText` replaces the header dict (for bad-input tests).
    func data(headerText: String? = nil) -> Data {
        var out = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        var h = headerText ?? header()
        let pre = version == 1 ? 10 : 12
        let total = pre + h.utf8.count + 1
        h += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let n = h.utf8.count
        if version == 1 { out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)]) }
        else { out.append(contentsOf: [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]) }
        out.append(contentsOf: Array(h.utf8))
        for row in rows {
            for f in fields {
                let (kind, size, big) = NPYTestArray.size(f.type)
                let count = f.shape.reduce(1, *)
                let cell = row[f.name]
                func put<T: FixedWidthInteger>(_ v: T) {
                    let w = big ? v.bigEndian : v.littleEndian
                    withUnsafeBytes(of: w) { out.append(contentsOf: $0) }
                }
                switch kind {
                case "S", "U":
                    guard case .text(let s)? = cell else { out.append(Data(count: size)); continue }
                    var bytes: [UInt8] = []
                    if kind == "S" { bytes = Array(s.utf8) } else {
                        for u in s.unicodeScalars { withUnsafeBytes(of: big ? u.value.bigEndian : u.value.littleEndian) { bytes.append(contentsOf: $0) } }
                    }
                    precondition(bytes.count <= size, "string too long for \(f.type)")
                    out.append(contentsOf: bytes + [UInt8](repeating: 0, count: size - bytes.count))
                case "V":
                    out.append(Data(count: size * count))
                default:
                    for k in 0..<count {
                        var d = 0.0, u: UInt64 = 0
                        switch cell {
                        case .numbers(let v)?: d = v[k]; u = d >= 0 && d < 1.8e19 ? UInt64(d) : 0
                        case .integers(let v)?: u = v[k]; d = Double(v[k])
                        default: break
                        }
                        switch (kind, size) {
                        case ("f", 4): put(Float(d).bitPattern)
                        case ("f", 8): put(d.bitPattern)
                        case ("u", 1), ("b", 1): out.append(UInt8(u))
                        case ("u", 2): put(UInt16(u))
                        case ("u", 4): put(UInt32(u))
                        case ("u", 8): put(u)
                        case ("i", 4): put(Int32(d))
                        case ("i", 8): put(Int64(d))
                        default: fatalError("test writer: type \(f.type)")
                        }
                    }
                }
            }
        }
        return out
    }

    @discardableResult
    func write(to path: String) -> String {
        try! data().write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// The truth of one synthetic particle.
struct TruthParticle {
    var uid: UInt64
    var stack: String
    var index: Int
    var micrograph: String
    var expGroup: Int
    var pixelSize: Double
    var alignPixelSize: Double
    var box: Int
    var voltage = 300.0, cs = 2.7, q0 = 0.1
    var rot: Double, tilt: Double, psi: Double
    var originX: Double, originY: Double   // Å
    var dfU: Double, dfV: Double, dfAngle: Double   // Å, Å, degrees
    var phaseShift = 0.0                   // degrees
    var bfactor = 0.0, scale = 1.0
    var split: Int
    var klass: Int
    var anisomag = [0.0, 0, 0, 0]
    var tiltA = [0.0, 0], trefoil = [0.0, 0], tetra = [0.0, 0, 0, 0]
    var ctfShift = [0.0, 0]
    /// Position in the micrograph (pixels, x along the width) and the micrograph's size.
    var coordX = 0.0, coordY = 0.0
    var micrographWidth = 5760, micrographHeight = 4092
}

enum Synthetic {
    /// Particles over `groups` exposure groups with random orientations, shifts and defoci.
    static func particles(_ n: Int, groups: Int = 1, seed: UInt64 = 7, pixelSize: Double = 1.06, alignPixelSize: Double? = nil,
                          box: Int = 256) -> [TruthParticle] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            let g = i % groups
            return TruthParticle(
                uid: 1_000_000_007 &* UInt64(i + 1) &+ 12345 &+ seed &* 7919, stack: "J30/extract/mic\(i / 7)_particles.mrc", index: i % 7,
                micrograph: "J14/motioncorrected/mic\(i / 7).mrc", expGroup: g + 1, pixelSize: pixelSize,
                alignPixelSize: alignPixelSize ?? pixelSize, box: box,
                rot: rng.uniform(-180, 180), tilt: rng.uniform(1, 179), psi: rng.uniform(-180, 180),
                originX: rng.uniform(-8, 8), originY: rng.uniform(-8, 8),
                dfU: rng.uniform(9000, 25000), dfV: 0, dfAngle: rng.uniform(-90, 90), split: i % 2, klass: i % 3)
        }.map {
            var p = $0
            p.dfV = p.dfU - rng.uniform(0, 800)
            p.coordX = rng.uniform(100, 5660); p.coordY = rng.uniform(100, 3992)
            return p
        }
    }

    static let ctfFields: [(String, String, [Int])] = [
        ("ctf/type", "|S8", []), ("ctf/exp_group_id", "<u4", []), ("ctf/accel_kv", "<f4", []), ("ctf/cs_mm", "<f4", []),
        ("ctf/amp_contrast", "<f4", []), ("ctf/df1_A", "<f4", []), ("ctf/df2_A", "<f4", []), ("ctf/df_angle_rad", "<f4", []),
        ("ctf/phase_shift_rad", "<f4", []), ("ctf/scale", "<f4", []), ("ctf/scale_const", "<f4", []), ("ctf/shift_A", "<f4", [2]),
        ("ctf/tilt_A", "<f4", [2]), ("ctf/trefoil_A", "<f4", [2]), ("ctf/tetra_A", "<f4", [4]), ("ctf/anisomag", "<f4", [4]),
        ("ctf/bfactor", "<f4", []),
    ]

    static func blobFields(text: String) -> [(String, String, [Int])] {
        [("blob/path", text, []), ("blob/idx", "<u4", []), ("blob/shape", "<u4", [2]), ("blob/psize_A", "<f4", []),
         ("blob/sign", "<f4", []), ("blob/import_sig", "<u8", [])]
    }

    /// Classes of the synthetic alignments3D_multi files.
    static let multiClasses = 3

    static func alignmentFields(_ prefix: String) -> [(String, String, [Int])] {
        if prefix == "alignments3D_multi" {
            let k = multiClasses
            return [("\(prefix)/split", "<u4", []), ("\(prefix)/shift", "<f4", [k, 2]), ("\(prefix)/pose", "<f4", [k, 3]),
                    ("\(prefix)/psize_A", "<f4", []), ("\(prefix)/error", "<f4", [k]), ("\(prefix)/class_posterior", "<f4", [k]),
                    ("\(prefix)/class", "<u4", [k]), ("\(prefix)/image_pow", "<f4", [])]
        }
        return [("\(prefix)/split", "<u4", []), ("\(prefix)/shift", "<f4", [2]), ("\(prefix)/pose", "<f4", prefix == "alignments3D" ? [3] : []),
         ("\(prefix)/psize_A", "<f4", []), ("\(prefix)/error", "<f4", []), ("\(prefix)/cross_cor", "<f4", []),
         ("\(prefix)/class_posterior", "<f4", []), ("\(prefix)/class", "<u4", []), ("\(prefix)/image_pow", "<f4", [])]
    }

    static func cells(_ p: TruthParticle, alignments: String) -> [String: NPYCell] {
        var c: [String: NPYCell] = [
            "uid": .integers([p.uid]), "blob/path": .text(p.stack), "blob/idx": .integers([UInt64(p.index)]),
            "blob/shape": .integers([UInt64(p.box), UInt64(p.box)]), "blob/psize_A": .numbers([p.pixelSize]),
            "blob/sign": .numbers([-1]), "blob/import_sig": .integers([42]),
            "ctf/type": .text("imported"), "ctf/exp_group_id": .integers([UInt64(p.expGroup)]), "ctf/accel_kv": .numbers([p.voltage]),
            "ctf/cs_mm": .numbers([p.cs]), "ctf/amp_contrast": .numbers([p.q0]), "ctf/df1_A": .numbers([p.dfU]),
            "ctf/df2_A": .numbers([p.dfV]), "ctf/df_angle_rad": .numbers([p.dfAngle * .pi / 180]),
            "ctf/phase_shift_rad": .numbers([p.phaseShift * .pi / 180]), "ctf/scale": .numbers([p.scale]),
            "ctf/scale_const": .numbers([0]), "ctf/shift_A": .numbers(p.ctfShift), "ctf/tilt_A": .numbers(p.tiltA),
            "ctf/trefoil_A": .numbers(p.trefoil), "ctf/tetra_A": .numbers(p.tetra), "ctf/anisomag": .numbers(p.anisomag),
            "ctf/bfactor": .numbers([p.bfactor]),
            "location/micrograph_path": .text(p.micrograph), "location/micrograph_uid": .integers([7]),
            "location/center_x_frac": .numbers([p.coordX / Double(p.micrographWidth)]),
            "location/center_y_frac": .numbers([p.coordY / Double(p.micrographHeight)]),
            "location/micrograph_shape": .integers([UInt64(p.micrographHeight), UInt64(p.micrographWidth)]),
        ]
        let a = alignments
        if a == "alignments3D_multi" {
            // One pose and shift per class; the particle's own class (klass) has the truth and the
            // largest posterior, the others decoys.
            var rng = SplitMix64(seed: p.uid)
            var poses: [Double] = [], shifts: [Double] = [], post: [Double] = []
            for k in 0..<multiClasses {
                if k == p.klass {
                    let v = CryoSPARCConventions.pose(rot: p.rot, tilt: p.tilt, psi: p.psi)
                    poses += [v.0, v.1, v.2]
                    shifts += [p.originX / p.alignPixelSize, p.originY / p.alignPixelSize]
                    post.append(0.6)
                } else {
                    let v = CryoSPARCConventions.pose(rot: rng.uniform(-180, 180), tilt: rng.uniform(1, 179), psi: rng.uniform(-180, 180))
                    poses += [v.0, v.1, v.2]
                    shifts += [rng.uniform(-5, 5), rng.uniform(-5, 5)]
                    post.append(0.4 / Double(multiClasses - 1))
                }
            }
            c["\(a)/pose"] = .numbers(poses)
            c["\(a)/shift"] = .numbers(shifts)
            c["\(a)/class_posterior"] = .numbers(post)
            c["\(a)/class"] = .integers((0..<multiClasses).map { UInt64($0) })
            c["\(a)/psize_A"] = .numbers([p.alignPixelSize])
            c["\(a)/split"] = .integers([UInt64(p.split)])
            return c
        }
        if a == "alignments3D" {
            let v = CryoSPARCConventions.pose(rot: p.rot, tilt: p.tilt, psi: p.psi)
            c["\(a)/pose"] = .numbers([v.0, v.1, v.2])
        } else {
            c["\(a)/pose"] = .numbers([p.psi * .pi / 180])
        }
        c["\(a)/shift"] = .numbers([p.originX / p.alignPixelSize, p.originY / p.alignPixelSize])
        c["\(a)/psize_A"] = .numbers([p.alignPixelSize])
        c["\(a)/split"] = .integers([UInt64(p.split)])
        c["\(a)/class"] = .integers([UInt64(p.klass)])
        c["\(a)/class_posterior"] = .numbers([1])
        return c
    }

    /// One .cs with everything (a refinement's output without passthrough).
    static func full(_ ps: [TruthParticle], alignments: String = "alignments3D", text: String = "|S64") -> NPYTestArray {
        var a = NPYTestArray([("uid", "<u8", [])] + blobFields(text: text) + ctfFields + alignmentFields(alignments)
                             + [("location/micrograph_path", text, []), ("location/center_x_frac", "<f4", []),
                                ("location/center_y_frac", "<f4", []), ("location/micrograph_shape", "<u4", [2])])
        a.rows = ps.map { cells($0, alignments: alignments) }
        return a
    }

    /// The split cryoSPARC writes: the job's own output (uid + alignments) and a passthrough with
    /// blob, ctf and location, its records in another order.
    static func split(_ ps: [TruthParticle], alignments: String = "alignments3D", text: String = "|S64") -> (main: NPYTestArray, passthrough: NPYTestArray) {
        var m = NPYTestArray([("uid", "<u8", [])] + alignmentFields(alignments))
        m.rows = ps.map { cells($0, alignments: alignments) }
        var p = NPYTestArray([("uid", "<u8", [])] + blobFields(text: text) + ctfFields
                             + [("location/micrograph_uid", "<u8", []), ("location/micrograph_path", text, []),
                                ("location/center_x_frac", "<f4", []), ("location/center_y_frac", "<f4", []),
                                ("location/micrograph_shape", "<u4", [2])])
        p.rows = ps.reversed().map { cells($0, alignments: alignments) }
        return (m, p)
    }
}
