// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Hand-built MRC files for tests: the 1024-byte header written field by field from the MRC2014
// word table (not through angpix's MRCHeader), so that tests of the reader do not share its code.

import Foundation

/// The fields of a hand-built MRC header (little- or big-endian), with raw voxel bytes after it.
public struct RawMRC {
    /// NX NY NZ: numbers of columns, rows, sections as stored.
    public var n: (Int32, Int32, Int32)
    public var mode: Int32 = 2
    /// NXSTART NYSTART NZSTART (per column, row, section).
    public var start: (Int32, Int32, Int32) = (0, 0, 0)
    /// MX MY MZ (per x, y, z).
    public var m: (Int32, Int32, Int32)
    /// CELLA in Å (per x, y, z).
    public var cella: (Float, Float, Float)
    public var axes: (Int32, Int32, Int32) = (1, 2, 3)
    public var dmin: Float = 0, dmax: Float = -1, dmean: Float = -2
    public var ispg: Int32 = 1
    /// imodStamp and imodFlags (words 39-40, bytes 152-159).
    public var imodStamp: Int32 = 0, imodFlags: Int32 = 0
    public var bigEndian = false
    /// The voxel bytes, already in the file's mode and byte order.
    public var data: [UInt8] = []

    public init(n: (Int32, Int32, Int32), m: (Int32, Int32, Int32), cella: (Float, Float, Float)) {
        self.n = n; self.m = m; self.cella = cella
    }

    /// The whole file: header + data.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 1024)
        let big = bigEndian
        func put(_ word: Int, _ v: UInt32) {
            let b = big ? v.bigEndian : v.littleEndian
            withUnsafeBytes(of: b) { for k in 0..<4 { out[4 * word + k] = $0[k] } }
        }
        func i(_ word: Int, _ v: Int32) { put(word, UInt32(bitPattern: v)) }
        func f(_ word: Int, _ v: Float) { put(word, v.bitPattern) }
        i(0, n.0); i(1, n.1); i(2, n.2); i(3, mode)
        i(4, start.0); i(5, start.1); i(6, start.2)
        i(7, m.0); i(8, m.1); i(9, m.2)
        f(10, cella.0); f(11, cella.1); f(12, cella.2)
        f(13, 90); f(14, 90); f(15, 90)
        i(16, axes.0); i(17, axes.1); i(18, axes.2)
        f(19, dmin); f(20, dmax); f(21, dmean)
        i(22, ispg)
        i(27, 20140)
        i(38, imodStamp); i(39, imodFlags)
        out[208] = 0x4D; out[209] = 0x41; out[210] = 0x50; out[211] = 0x20
        if big { out[212] = 0x11; out[213] = 0x11 } else { out[212] = 0x44; out[213] = 0x44 }
        f(54, -1)
        return out + data
    }

    /// Writes the file to `path`.
    public func write(to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// A float32 file holding the x-fastest volume `values` (nx × ny × nz, voxel `pixelSize` Å)
    /// stored with MAPC MAPR MAPS = `axes`: NX NY NZ are the sizes along the axes the columns,
    /// rows and sections run along, and voxel (column c, row r, section s) is the value at the
    /// x, y, z with coordinate[axes.0 - 1] = c, coordinate[axes.1 - 1] = r, coordinate[axes.2 - 1] = s.
    /// `start` is NXSTART... along x, y, z (stored permuted like NX...).
    public static func permutedVolume(_ values: [Float], nx: Int, ny: Int, nz: Int, pixelSize: Float,
                                      axes: (Int, Int, Int), start: (Int, Int, Int) = (0, 0, 0),
                                      bigEndian: Bool = false) -> RawMRC {
        precondition(values.count == nx * ny * nz)
        let size = [nx, ny, nz], st = [start.0, start.1, start.2]
        let ax = [axes.0 - 1, axes.1 - 1, axes.2 - 1]
        let nc = size[ax[0]], nr = size[ax[1]], ns = size[ax[2]]
        var raw = RawMRC(n: (Int32(nc), Int32(nr), Int32(ns)), m: (Int32(nx), Int32(ny), Int32(nz)),
                         cella: (pixelSize * Float(nx), pixelSize * Float(ny), pixelSize * Float(nz)))
        raw.axes = (Int32(axes.0), Int32(axes.1), Int32(axes.2))
        raw.start = (Int32(st[ax[0]]), Int32(st[ax[1]]), Int32(st[ax[2]]))
        raw.bigEndian = bigEndian
        raw.dmin = values.min() ?? 0; raw.dmax = values.max() ?? 0
        raw.dmean = values.reduce(0, +) / Float(max(1, values.count))
        var data = [UInt8]()
        data.reserveCapacity(4 * values.count)
        var xyz = [0, 0, 0]
        for s in 0..<ns {
            for r in 0..<nr {
                for c in 0..<nc {
                    xyz[ax[0]] = c; xyz[ax[1]] = r; xyz[ax[2]] = s
                    let v = values[(xyz[2] * ny + xyz[1]) * nx + xyz[0]].bitPattern
                    let b = bigEndian ? v.bigEndian : v.littleEndian
                    withUnsafeBytes(of: b) { data.append(contentsOf: $0) }
                }
            }
        }
        raw.data = data
        return raw
    }

    /// The six orders of MAPC MAPR MAPS.
    public static let allAxisOrders: [(Int, Int, Int)] = [(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)]
}
