// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What `angpix cs info` reports about .cs files: records and fields (numpy types and shapes), and
// for particle files the pixel sizes of the images and of the alignments, boxes, exposure groups
// with their optics, and warnings (alignments at another pixel size than the images, anisotropic
// magnification or higher-order aberrations present, stacks that do not exist under the project
// folder). Field names and meanings as in CryoSPARCConventions.swift and docs/cryosparc.md.

import Foundation
import AngpixCore

/// What `angpix cs info` reports about a .cs file and its passthroughs.
public struct CryoSPARCInfo: Sendable, Codable {
    public struct Field: Sendable, Codable { public var name: String; public var type: String; public var kind: String; public var shape: [Int]; public var offset: Int }
    public struct FileInfo: Sendable, Codable {
        public var path: String
        public var npyVersion: String
        public var records: Int
        public var itemSize: Int
        public var fields: [Field]
    }
    public struct PixelSize: Sendable, Codable { public var pixelSize: Double; public var particles: Int }
    public var files: [FileInfo]
    /// Particle-file facts (nil for other .cs files).
    public var particles: Int?
    public var blobPixelSizes: [PixelSize]?
    public var alignments: String?
    /// The number of classes of alignments3D_multi (a 3D classification), else nil.
    public var classes: Int?
    /// Whether particle coordinates (location/center_x_frac, center_y_frac, micrograph_shape) are present.
    public var hasCoordinates: Bool?
    public var alignmentPixelSizes: [PixelSize]?
    public var boxes: [String]?
    public var opticsGroups: [CSOptics]?
    public var stacks: Int?
    public var missingStacks: [String]?
    public var warnings: [String]

    /// Reads the files; the first is the main file, the others its passthroughs. With
    /// `projectDirectory`, checks that every stack (blob/path) exists below it.
    public init(paths: [String], projectDirectory: String? = nil) throws {
        precondition(!paths.isEmpty)
        let files = try paths.map { try NPYFile(path: $0) }
        self.files = files.map { f in
            FileInfo(path: f.path, npyVersion: "\(f.version.major).\(f.version.minor)", records: f.count, itemSize: f.itemSize,
                     fields: f.fields.map { Field(name: $0.name, type: $0.typeString, kind: $0.kind.rawValue, shape: $0.shape, offset: $0.offset) })
        }
        warnings = []
        guard files[0].isStructured else { warnings.append("\(paths[0]) is a plain array, not a cryoSPARC record file"); return }
        let set = try CryoSPARCParticles(main: files[0], passthroughs: Array(files.dropFirst()))
        guard set.isParticleFile, set.column("blob/psize_A") != nil, set.column("ctf/accel_kv") != nil else { return }
        let n = set.count
        particles = n
        let grouping = try set.opticsGrouping()
        opticsGroups = grouping.groups
        var blobCounts: [Double: Int] = [:]
        var boxes: [String: Int] = [:]
        for g in grouping.groups {
            blobCounts[g.pixelSize, default: 0] += g.count
            boxes["\(g.boxX)x\(g.boxY)", default: 0] += g.count
        }
        blobPixelSizes = blobCounts.sorted { $0.key < $1.key }.map { PixelSize(pixelSize: $0.key, particles: $0.value) }
        self.boxes = boxes.keys.sorted()
        alignments = set.alignmentPrefix
        classes = set.multiClassCount
        hasCoordinates = set.column("location/center_x_frac") != nil && set.column("location/center_y_frac") != nil
            && set.column("location/micrograph_shape") != nil
        if let ap = try set.numeric("psize_A", count: set.alignment("psize_A").map { $0.field.count == 1 ? 1 : (classes ?? 1) } ?? 1, alignment: true) {
            var counts: [Double: Int] = [:]
            var decimals: [UInt32: Double] = [:]
            var differ = 0
            for i in 0..<n {
                let bits = ap.bits(i)
                let a: Double
                if let d = decimals[bits] { a = d } else { a = ap.decimal(i); decimals[bits] = a }
                counts[a, default: 0] += 1
                let b = grouping.groups[Int(grouping.groupOfRow[i])].pixelSize
                if abs(a - b) > 1e-5 * b { differ += 1 }
            }
            alignmentPixelSizes = counts.sorted { $0.key < $1.key }.map { PixelSize(pixelSize: $0.key, particles: $0.value) }
            if differ > 0 {
                warnings.append("\(differ) of \(n) particles were aligned at another pixel size than their images (\(set.alignmentPrefix!)/psize_A ≠ blob/psize_A, a refinement of downsampled particles): their shifts are in pixels of the alignments' pixel size; `angpix star from-cs` converts them so, pyem's csparc2star does not")
            }
        }
        for (k, g) in grouping.groups.enumerated() {
            let label = "optics \(k + 1) (exposure group \(g.exposureGroup.map(String.init) ?? "-"))"
            if g.hasAnisomag { warnings.append("\(label): anisotropic magnification \(g.anisomag) (cryoSPARC stores D − I; RELION's rlnMagMat is (I + anisomag)⁻ᵀ, not anisomag as pyem writes it)") }
            if g.hasTilt {
                let mrad = g.cs > 0 ? g.tilt.map { String(format: "%.4f", $0 / (g.cs * 1e4)) }.joined(separator: ", ") + " mrad at Cs \(g.cs) mm" : "Cs is 0: no beam tilt in mrad"
                warnings.append("\(label): beam tilt tilt_A = \(g.tilt) Å (\(mrad))")
            }
            if g.hasTrefoil { warnings.append("\(label): trefoil trefoil_A = \(g.trefoil) Å") }
            if g.hasTetrafoil { warnings.append("\(label): tetrafoil tetra_A = \(g.tetrafoil) Å") }
            if g.hasCtfShift { warnings.append("\(label): ctf/shift_A = \(g.ctfShift) Å (a first-order phase term; its sign is not published)") }
        }
        let csValues = Set(grouping.groups.map(\.cs))
        if csValues.count > 1 {
            warnings.append("Cs differs between groups (\(csValues.sorted().map { String($0) }.joined(separator: ", ")) mm): cryoSPARC's Global CTF Refinement may have fitted it; `angpix star from-cs --cs-nominal MM` writes the difference as Z40 for `angpix calibrate zernike`")
        }
        if let path = try set.text("blob/path") {
            var seen = Set<String>()
            for i in 0..<n { seen.insert(path.string(i)) }
            stacks = seen.count
            if let dir = projectDirectory {
                var missing: [String] = []
                for p in seen.sorted() {
                    let rel = p.hasPrefix(">") ? String(p.dropFirst()) : p
                    let full = rel.hasPrefix("/") ? rel : (dir as NSString).appendingPathComponent(rel)
                    if !FileManager.default.fileExists(atPath: full) { missing.append(rel) }
                }
                missingStacks = missing
                if !missing.isEmpty {
                    warnings.append("\(missing.count) of \(seen.count) stacks do not exist under \(dir) (first: \(missing[0]))")
                }
            }
            let mrc = seen.filter { $0.hasSuffix(".mrc") }.count
            if mrc > 0 {
                warnings.append("\(mrc) stacks are named .mrc; RELION reads image stacks as .mrcs (`star from-cs --mrcs-links DIR` makes .mrcs links and names them; `--mrcs` writes .mrcs names only)")
            }
        }
    }
}
