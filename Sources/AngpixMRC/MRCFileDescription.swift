// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The description of an MRC file that `angpix map info` prints: the header, voxel size, axis
// layout, data statistics and the validation problems (see MRCValidation.swift for the checks).

import Foundation
import AngpixCore

/// A description of an MRC file for people and scripts: header, voxel size, layout, data
/// statistics and validation problems (what `angpix map info` prints as text or JSON).
public struct MRCFileDescription: Encodable, Sendable {
    /// The header fields, as read.
    public struct Header: Encodable, Sendable {
        public var nx: Int, ny: Int, nz: Int
        public var mode: Int32
        public var modeName: String?
        public var byteOrder: String
        public var machineStamp: String
        public var nxstart: Int, nystart: Int, nzstart: Int
        public var mx: Int, my: Int, mz: Int
        public var cella: [Float], cellb: [Float]
        public var mapc: Int, mapr: Int, maps: Int
        public var dmin: Float, dmax: Float, dmean: Float, rms: Float
        public var ispg: Int
        public var nsymbt: Int
        public var exttyp: String
        public var nversion: Int
        public var origin: [Float]
        public var hasMapWord: Bool
        public var labels: [String]
        public var imodStamp: Int32, imodFlags: Int32
    }
    /// Statistics of the finite data values.
    public struct Stats: Encodable, Sendable {
        public var min: Double, max: Double, mean: Double, rms: Double
        public var finiteCount: Int, nonFiniteCount: Int
    }
    public var file: String
    /// The size of the MRC data (decompressed, when the file is compressed).
    public var fileSize: Int
    /// "gzip" or "bzip2" when the file was compressed, with its size on disk.
    public var compression: String?
    public var storedSize: Int?
    /// "image", "image stack", "volume" or "volume stack" (see MRCLayout).
    public var kind: String?
    /// Which rule decided `kind` (extension, ISPG, MZ).
    public var kindReason: String?
    /// False when the header gives no voxel size (CELLA 0): `pixelSize` is then 0, not a size.
    public var pixelSizeKnown: Bool?
    public var pixelSize: Double?
    public var voxelSize: [Double]?
    public var header: Header?
    /// The map's size along x, y, z as angpix reads it (NX NY NZ permuted by MAPC MAPR MAPS).
    public var mapSize: [Int]?
    /// How the voxels are laid out, e.g. "standard (columns x, rows y, sections z)".
    public var axisOrder: String?
    /// For mode 0: whether the bytes were read as signed or unsigned, and why.
    public var byteInterpretation: String?
    public var statistics: Stats?
    public var valid: Bool
    public var problems: [MRCProblem]

    /// Describes the outcome of validating an MRC file.
    public init(_ v: MRCValidation) {
        file = v.path
        fileSize = v.fileSize
        compression = v.compression?.rawValue
        storedSize = v.storedSize
        valid = v.isValid
        problems = v.problems
        if let h = v.header {
            let decided = MRCLayout.of(header: h, path: v.path)
            kind = decided.kind.rawValue
            kindReason = decided.reason
            pixelSize = h.pixelSize
            pixelSizeKnown = !h.cellIsZero
            voxelSize = [h.voxelSize.x, h.voxelSize.y, h.voxelSize.z]
            header = Header(nx: h.nx, ny: h.ny, nz: h.nz, mode: h.modeRaw, modeName: h.mode?.name,
                            byteOrder: h.byteOrder.rawValue,
                            machineStamp: h.machineStamp.map { String(format: "%02x", $0) }.joined(separator: " "),
                            nxstart: h.nxstart, nystart: h.nystart, nzstart: h.nzstart,
                            mx: h.mx, my: h.my, mz: h.mz,
                            cella: [h.cella.x, h.cella.y, h.cella.z], cellb: [h.cellb.x, h.cellb.y, h.cellb.z],
                            mapc: h.mapc, mapr: h.mapr, maps: h.maps,
                            dmin: h.dmin, dmax: h.dmax, dmean: h.dmean, rms: h.rms,
                            ispg: h.ispg, nsymbt: h.nsymbt, exttyp: h.exttyp, nversion: h.nversion,
                            origin: [h.origin.x, h.origin.y, h.origin.z], hasMapWord: h.hasMapWord, labels: h.labels,
                            imodStamp: h.imodStamp, imodFlags: h.imodFlags)
            let size = h.mapSize
            mapSize = [size.x, size.y, size.z]
            let names = [1: "x", 2: "y", 3: "z"]
            let layout = "columns \(names[h.mapc] ?? "?"), rows \(names[h.mapr] ?? "?"), sections \(names[h.maps] ?? "?")"
            if h.axisOrderIsStandard {
                axisOrder = "\(h.axisOrderText), standard (\(layout))"
            } else if h.mapc == 0 && h.mapr == 0 && h.maps == 0 {
                axisOrder = "0 0 0, unset: read as 1 2 3"
            } else if h.axisOrderIsValid {
                axisOrder = "\(h.axisOrderText), permuted (\(layout)): read as x y z \(size.x) × \(size.y) × \(size.z)"
            } else {
                axisOrder = "\(h.axisOrderText), not a permutation of 1 2 3"
            }
            byteInterpretation = h.byteInterpretation
        }
        if let s = v.statistics {
            statistics = Stats(min: s.count > 0 ? s.min : 0, max: s.count > 0 ? s.max : 0, mean: s.mean, rms: s.rms,
                               finiteCount: s.count, nonFiniteCount: s.nonFinite)
        }
    }

    /// The description as lines of text for a terminal.
    public var text: String {
        let stored = compression.map { "\(storedSize ?? 0) bytes, \($0)-compressed; \(fileSize) bytes decompressed" } ?? "\(fileSize) bytes"
        var lines = ["file:          \(file) (\(stored))"]
        if let h = header, let kind {
            let count = kind == "image stack" ? " (\(h.nz) images of \(h.nx) × \(h.ny))" : ""
            lines.append("dimensions:    \(h.nx) × \(h.ny) × \(h.nz), \(kind)\(count), ISPG \(h.ispg)")
            if let kindReason { lines.append("read as:       \(kind), decided by \(kindReason)") }
            lines.append("mode:          \(h.mode)\(h.modeName.map { " (\($0))" } ?? " (unknown)"), \(h.byteOrder)-endian (stamp \(h.machineStamp))")
            if pixelSizeKnown == false {
                lines.append("voxel size:    unknown (CELLA 0 0 0, MX MY MZ \(h.mx) \(h.my) \(h.mz))")
            } else if let v = voxelSize {
                lines.append("voxel size:    \(fmt(v[0])) × \(fmt(v[1])) × \(fmt(v[2])) Å   (CELLA \(fmt(h.cella[0])) \(fmt(h.cella[1])) \(fmt(h.cella[2])), MX MY MZ \(h.mx) \(h.my) \(h.mz))")
            }
            if let byteInterpretation { lines.append("mode 0 bytes:  \(byteInterpretation)") }
            lines.append("origin:        \(fmt(h.origin[0])) \(fmt(h.origin[1])) \(fmt(h.origin[2])) Å; start \(h.nxstart) \(h.nystart) \(h.nzstart) (columns, rows, sections)")
            if let axisOrder { lines.append("axis order:    MAPC MAPR MAPS \(axisOrder)") }
            lines.append("extended:      \(h.nsymbt) bytes\(h.exttyp.isEmpty ? "" : " (\(h.exttyp))"); NVERSION \(h.nversion); MAP word \(h.hasMapWord ? "present" : "missing")")
            lines.append("header stats:  min \(fmt(h.dmin)) max \(fmt(h.dmax)) mean \(fmt(h.dmean)) rms \(fmt(h.rms))")
            for (i, label) in h.labels.enumerated() { lines.append("label \(i + 1):".padding(toLength: 15, withPad: " ", startingAt: 0) + label) }
        }
        if let s = statistics {
            lines.append("data stats:    min \(fmt(s.min)) max \(fmt(s.max)) mean \(fmt(s.mean)) rms \(fmt(s.rms))" +
                         (s.nonFiniteCount > 0 ? "; \(s.nonFiniteCount) NaN/Inf" : ""))
        }
        if problems.isEmpty {
            lines.append("problems:      none")
        } else {
            lines.append("problems:")
            for p in problems { lines.append("  \(p)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// A header or data value: 0, six significant digits, or exponent notation when very small or large.
private func fmt(_ v: Double) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 1e-3 && abs(v) < 1e6 { return formatSignificant(v) }
    return formatScientific(v, decimals: 4)
}

private func fmt(_ v: Float) -> String { fmt(Double(v)) }
