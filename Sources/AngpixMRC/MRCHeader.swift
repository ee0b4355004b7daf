// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The MRC2014 header: 1024 bytes of 256 four-byte words, followed by NSYMBT bytes of extended
// header and then the voxels. Defined by the CCP-EM MRC2014 format description
// (https://www.ccpem.ac.uk/mrc_format/mrc2014.php; Cheng et al., J. Struct. Biol. 192, 2015).
//
//  word  bytes     field                      word  bytes     field
//   1-3  0-11      NX NY NZ                    24    92-95    NSYMBT (extended header bytes)
//   4    12-15     MODE                        27    104-107  EXTTYP ("CCP4", "FEI1", ...)
//   5-7  16-27     NXSTART NYSTART NZSTART     28    108-111  NVERSION (20140)
//   8-10 28-39     MX MY MZ (sampling)         50-52 196-207  ORIGIN x y z (Å)
//  11-13 40-51     CELLA (Å)                   53    208-211  "MAP "
//  14-16 52-63     CELLB (degrees)             54    212-215  MACHST (0x44 0x44 little, 0x11 0x11 big endian)
//  17-19 64-75     MAPC MAPR MAPS              55    216-219  RMS deviation from the mean
//  20-22 76-87     DMIN DMAX DMEAN             56    220-223  NLABL
//  23    88-91     ISPG (0 image stack, 1 volume, 401 volume stack)  57-256 224-1023 ten 80-char labels
//
// The voxel size is CELLA / (MX, MY, MZ). Byte order comes from the machine stamp; when the stamp
// is missing or unknown, the order in which MODE and NX..NZ look sensible is used.
//
// Axis order (MAPC MAPR MAPS, words 17-19). MRC2014 and the CCP4 map format define the fields in
// two frames:
//  - in the order the data are STORED (columns = fastest, rows, sections = slowest):
//    NX NY NZ (numbers of columns, rows, sections) and NXSTART NYSTART NZSTART (first column, row,
//    section). MAPC says which of x, y, z (1, 2, 3) the columns run along, MAPR the rows, MAPS the
//    sections.
//  - along the CELL axes x, y, z whatever the storage order: MX MY MZ (sampling along x, y, z),
//    CELLA (cell lengths along x, y, z), CELLB (angles), ORIGIN (x, y, z).
// So the voxel size (CELLA / MX...) is already per x, y, z; only the sizes, starts and the data
// need permuting. `mapSize` and `mapStart` give them along x, y, z; MRCFile.readMap permutes the
// data (see MRCFile.swift for why, and what RELION and mrcfile do).
//
// Mode 0 signedness (words 39-40, bytes 152-159: IMOD's imodStamp and imodFlags). MRC2014 says
// mode 0 is signed 8-bit. IMOD wrote unsigned bytes before 4.2.23 and since marks its files with
// imodStamp = 1146047817 ("IMOD"), bit 0 of imodFlags set meaning the bytes are signed. angpix
// reads mode 0 as UNSIGNED only when the stamp is present and that bit is clear; every other
// file is signed, as MRC2014, RELION 3.1 (rwMRC.h reads mode 0 as signed char) and mrcfile 1.5
// (mode 0 is always int8, the IMOD fields are ignored) read it. IMOD itself also guesses for
// unstamped files from DMIN/DMAX (signed when DMIN < 0 and DMAX < 128); angpix does not guess but
// the validator warns when an unstamped mode-0 header looks unsigned.

import AngpixCore

/// The byte order of an MRC file's numbers.
public enum MRCByteOrder: String, Sendable, Codable {
    case little, big

    /// The order of the machine running angpix.
    public static var native: MRCByteOrder { 1.littleEndian == 1 ? .little : .big }
}

/// The data type of an MRC file's voxels (the MODE word).
public enum MRCMode: Int32, Sendable, CaseIterable, Codable {
    /// Signed 8-bit integers (MRC2014; IMOD calls some of these unsigned).
    case int8 = 0
    /// Signed 16-bit integers.
    case int16 = 1
    /// 32-bit IEEE floats, the default.
    case float32 = 2
    /// Unsigned 16-bit integers.
    case uint16 = 6
    /// 16-bit IEEE floats.
    case float16 = 12
    /// 4-bit unsigned integers, two per byte, low nibble first, each row padded to a whole byte (read only).
    case uint4 = 101

    /// Bytes taken by one row of `nx` voxels.
    public func bytesPerRow(_ nx: Int) -> Int {
        switch self {
        case .int8: return nx
        case .int16, .uint16, .float16: return 2 * nx
        case .float32: return 4 * nx
        case .uint4: return (nx + 1) / 2
        }
    }

    /// Whether angpix can write this mode.
    public var isWritable: Bool { self != .uint4 }

    /// A short name ("float32").
    public var name: String {
        switch self {
        case .int8: return "int8"
        case .int16: return "int16"
        case .float32: return "float32"
        case .uint16: return "uint16"
        case .float16: return "float16"
        case .uint4: return "uint4"
        }
    }
}

/// Three numbers, for cell sizes, angles and origins.
public struct MRCTriple<T: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    public var x: T, y: T, z: T
    public init(_ x: T, _ y: T, _ z: T) { self.x = x; self.y = y; self.z = z }
}

/// The 1024-byte header of an MRC2014 file, decoded.
public struct MRCHeader: Sendable, Equatable {
    public var nx: Int = 0, ny: Int = 0, nz: Int = 0
    /// The raw MODE word (see `mode` for the decoded type).
    public var modeRaw: Int32 = 2
    public var nxstart: Int = 0, nystart: Int = 0, nzstart: Int = 0
    public var mx: Int = 0, my: Int = 0, mz: Int = 0
    /// Cell dimensions in Å.
    public var cella = MRCTriple<Float>(0, 0, 0)
    /// Cell angles in degrees.
    public var cellb = MRCTriple<Float>(90, 90, 90)
    public var mapc: Int = 1, mapr: Int = 2, maps: Int = 3
    public var dmin: Float = 0, dmax: Float = 0, dmean: Float = 0
    public var ispg: Int = 1
    /// Bytes of extended header after the 1024-byte header.
    public var nsymbt: Int = 0
    /// The extended header type, e.g. "FEI1" (empty when unset).
    public var exttyp: String = ""
    public var nversion: Int = 20140
    /// Origin in Å (MRC2014 words 50-52).
    public var origin = MRCTriple<Float>(0, 0, 0)
    /// Whether bytes 208-211 hold "MAP ".
    public var hasMapWord: Bool = true
    /// The four machine-stamp bytes as found.
    public var machineStamp: [UInt8] = [0x44, 0x44, 0, 0]
    public var rms: Float = 0
    /// The text labels (at most ten of 80 characters).
    public var labels: [String] = []
    /// The byte order of the file's numbers.
    public var byteOrder: MRCByteOrder = .little
    /// Whether the machine stamp was one of the known values (else the byte order was guessed).
    public var machineStampValid: Bool = true
    /// IMOD's stamp (word 39, bytes 152-155): `MRCHeader.imodStampValue` in files IMOD wrote.
    public var imodStamp: Int32 = 0
    /// IMOD's flags (word 40, bytes 156-159); bit 0 set = mode-0 bytes are signed.
    public var imodFlags: Int32 = 0

    /// The imodStamp of files that carry IMOD's flags (the bytes "IMOD" read as an integer).
    public static let imodStampValue: Int32 = 1146047817

    public init() {}

    /// Whether mode-0 voxels are unsigned bytes: only when the IMOD stamp is present and its
    /// signed flag (bit 0 of imodFlags) is clear. Everything else is signed, as MRC2014 says.
    public var bytesAreUnsigned: Bool {
        modeRaw == 0 && imodStamp == MRCHeader.imodStampValue && imodFlags & 1 == 0
    }

    /// How mode-0 bytes are read, in words ("signed (MRC2014; no IMOD stamp)"); nil for other modes.
    public var byteInterpretation: String? {
        guard modeRaw == 0 else { return nil }
        if imodStamp != MRCHeader.imodStampValue { return "signed (MRC2014; no IMOD stamp)" }
        return bytesAreUnsigned ? "unsigned (IMOD stamp, signed flag clear)" : "signed (IMOD stamp, signed flag set)"
    }

    /// Whether MAPC MAPR MAPS is a permutation of 1 2 3.
    public var axisOrderIsValid: Bool { Set([mapc, mapr, maps]) == Set([1, 2, 3]) }

    /// Whether the data are stored in the standard order (columns x, rows y, sections z).
    public var axisOrderIsStandard: Bool { mapc == 1 && mapr == 2 && maps == 3 }

    /// The axis order as text ("1 2 3").
    public var axisOrderText: String { "\(mapc) \(mapr) \(maps)" }

    /// The map's size along x, y, z (NX NY NZ are columns, rows, sections; MAPC... say which of
    /// x, y, z each is). Equal to NX NY NZ when the order is standard or not a permutation.
    public var mapSize: MRCTriple<Int> { permutedToXYZ(MRCTriple(nx, ny, nz)) }

    /// NXSTART... along x, y, z (they are stored per column, row, section like NX...).
    public var mapStart: MRCTriple<Int> { permutedToXYZ(MRCTriple(nxstart, nystart, nzstart)) }

    /// Reorders a (column, row, section) triple to (x, y, z) using MAPC MAPR MAPS.
    func permutedToXYZ(_ crs: MRCTriple<Int>) -> MRCTriple<Int> {
        guard axisOrderIsValid, !axisOrderIsStandard else { return crs }
        var xyz = [0, 0, 0]
        xyz[mapc - 1] = crs.x; xyz[mapr - 1] = crs.y; xyz[maps - 1] = crs.z
        return MRCTriple(xyz[0], xyz[1], xyz[2])
    }

    /// The decoded mode, or nil if MODE is not one angpix knows.
    public var mode: MRCMode? { MRCMode(rawValue: modeRaw) }

    /// The voxel size in Å along x, y, z (CELLA / MX...; 0 where MX... is 0).
    public var voxelSize: MRCTriple<Double> {
        func v(_ a: Float, _ m: Int) -> Double { m > 0 ? Double(a) / Double(m) : 0 }
        return MRCTriple(v(cella.x, mx), v(cella.y, my), v(cella.z, mz))
    }

    /// The pixel size in Å (the x voxel size, which RELION uses); 0 when the cell is 0 (unknown).
    public var pixelSize: Double { voxelSize.x }

    /// Whether CELLA is 0 0 0: the file gives no voxel size (IMOD and some converters write this;
    /// mrcfile accepts it, RELION reads it as 1 Å/px).
    public var cellIsZero: Bool { cella.x == 0 && cella.y == 0 && cella.z == 0 }

    /// Whether the file is an image stack (ISPG 0 with more than one section, as RELION's .mrcs).
    /// A file with ISPG 0 and MZ = NZ is a volume as RELION writes them, not a stack.
    public var isImageStack: Bool { ispg == 0 && nz > 1 && mz != nz }

    /// Whether the file is a volume written by RELION 3.1 (ISPG 0 with MZ = NZ > 1).
    public var isRelionStyleVolume: Bool { ispg == 0 && nz > 1 && mz == nz }

    /// Whether the file is a stack of volumes (ISPG 401-630); `mz` sections per volume.
    public var isVolumeStack: Bool { ispg >= 401 && ispg <= 630 }

    /// Offset of the first voxel.
    public var dataOffset: Int { 1024 + nsymbt }

    /// Bytes of voxel data the header describes.
    public var dataByteCount: Int {
        guard let mode, nx > 0, ny > 0, nz > 0 else { return 0 }
        return mode.bytesPerRow(nx) * ny * nz
    }

    /// Bytes of one section (nx × ny voxels).
    public var sectionByteCount: Int {
        guard let mode else { return 0 }
        return mode.bytesPerRow(nx) * ny
    }

    /// Sets CELLA (and MX..MZ when unset) so that the voxel size is `pixelSize` Å in every direction.
    ///
    /// When MX MY MZ are all positive they are kept and CELLA is scaled, as mrcfile's voxel_size
    /// setter does: a crystallographic map (an EMDB map cut from a larger cell, MX ≠ NX, any ISPG)
    /// keeps its sampling grid and space group. Otherwise MX MY MZ are set from the map's size.
    public mutating func setPixelSize(_ pixelSize: Double) {
        if mx > 0 && my > 0 && mz > 0 {
            cella = MRCTriple(Float(pixelSize * Double(mx)), Float(pixelSize * Double(my)), Float(pixelSize * Double(mz)))
            return
        }
        // MX MY MZ count intervals along x, y, z: with a permuted axis order they follow the map's
        // size along x, y, z, not NX NY NZ.
        let size = mapSize
        mx = size.x; my = size.y
        // Image stacks (ISPG 0) have MZ 1, except RELION's volumes, written with ISPG 0 and MZ = NZ.
        if isVolumeStack { if mz <= 0 { mz = nz } } else if ispg == 0 && !isRelionStyleVolume { mz = 1 } else { mz = size.z }
        cella = MRCTriple(Float(pixelSize * Double(mx)), Float(pixelSize * Double(my)), Float(pixelSize * Double(mz)))
    }

    // MARK: decoding

    /// Decodes the first 1024 bytes of `bytes` (which must hold at least 1024).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> MRCHeader {
        precondition(bytes.count >= 1024)
        var h = MRCHeader()
        let stamp = [bytes[212], bytes[213], bytes[214], bytes[215]]
        h.machineStamp = stamp
        switch (stamp[0], stamp[1]) {
        case (0x44, 0x44), (0x44, 0x41):
            h.byteOrder = .little; h.machineStampValid = true
        case (0x11, 0x11):
            h.byteOrder = .big; h.machineStampValid = true
        default:
            // Guess: the order in which the mode and sizes look sensible.
            h.machineStampValid = false
            func plausible(_ order: MRCByteOrder) -> Bool {
                let mode = readInt32(bytes, 12, order)
                let n = (0..<3).map { readInt32(bytes, 4 * $0, order) }
                return MRCMode(rawValue: mode) != nil && n.allSatisfy { $0 > 0 && $0 < 1 << 20 }
            }
            let native = MRCByteOrder.native
            let other: MRCByteOrder = native == .little ? .big : .little
            h.byteOrder = plausible(native) || !plausible(other) ? native : other
        }
        let o = h.byteOrder
        func i(_ word: Int) -> Int { Int(readInt32(bytes, 4 * word, o)) }
        func f(_ word: Int) -> Float { Float(bitPattern: UInt32(bitPattern: readInt32(bytes, 4 * word, o))) }
        h.nx = i(0); h.ny = i(1); h.nz = i(2)
        h.modeRaw = Int32(i(3))
        h.nxstart = i(4); h.nystart = i(5); h.nzstart = i(6)
        h.mx = i(7); h.my = i(8); h.mz = i(9)
        h.cella = MRCTriple(f(10), f(11), f(12))
        h.cellb = MRCTriple(f(13), f(14), f(15))
        h.mapc = i(16); h.mapr = i(17); h.maps = i(18)
        h.dmin = f(19); h.dmax = f(20); h.dmean = f(21)
        h.ispg = i(22)
        h.nsymbt = i(23)
        h.exttyp = asciiText(bytes, 104, 4)
        h.nversion = i(27)
        h.imodStamp = Int32(i(38)); h.imodFlags = Int32(i(39))
        h.origin = MRCTriple(f(49), f(50), f(51))
        h.hasMapWord = bytes[208] == 0x4D && bytes[209] == 0x41 && bytes[210] == 0x50
        h.rms = f(54)
        let nlabl = max(0, min(10, i(55)))
        h.labels = (0..<nlabl).map { asciiText(bytes, 224 + 80 * $0, 80) }
        return h
    }

    /// Encodes the header as 1024 bytes in `byteOrder` (MAP word and a matching machine stamp included).
    public func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1024)
        let o = byteOrder
        func i(_ word: Int, _ v: Int) { writeInt32(&out, 4 * word, Int32(truncatingIfNeeded: v), o) }
        func f(_ word: Int, _ v: Float) { writeInt32(&out, 4 * word, Int32(bitPattern: v.bitPattern), o) }
        i(0, nx); i(1, ny); i(2, nz); i(3, Int(modeRaw))
        i(4, nxstart); i(5, nystart); i(6, nzstart)
        i(7, mx); i(8, my); i(9, mz)
        f(10, cella.x); f(11, cella.y); f(12, cella.z)
        f(13, cellb.x); f(14, cellb.y); f(15, cellb.z)
        i(16, mapc); i(17, mapr); i(18, maps)
        f(19, dmin); f(20, dmax); f(21, dmean)
        i(22, ispg); i(23, nsymbt)
        for (k, c) in exttyp.utf8.prefix(4).enumerated() { out[104 + k] = c }
        i(27, nversion)
        i(38, Int(imodStamp)); i(39, Int(imodFlags))
        f(49, origin.x); f(50, origin.y); f(51, origin.z)
        out[208] = 0x4D; out[209] = 0x41; out[210] = 0x50; out[211] = 0x20   // "MAP "
        if o == .little { out[212] = 0x44; out[213] = 0x44 } else { out[212] = 0x11; out[213] = 0x11 }
        f(54, rms)
        let kept = Array(labels.prefix(10))
        i(55, kept.count)
        for (n, label) in kept.enumerated() {
            for (k, c) in label.utf8.prefix(80).enumerated() { out[224 + 80 * n + k] = c }
        }
        return out
    }
}

// MARK: byte helpers

@inline(__always)
func readInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ order: MRCByteOrder) -> Int32 {
    let raw = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
    return order == .little ? Int32(littleEndian: raw) : Int32(bigEndian: raw)
}

@inline(__always)
func writeInt32(_ out: inout [UInt8], _ offset: Int, _ value: Int32, _ order: MRCByteOrder) {
    let v = order == .little ? value.littleEndian : value.bigEndian
    withUnsafeBytes(of: v) { b in for k in 0..<4 { out[offset + k] = b[k] } }
}

/// Printable ASCII of a fixed-width field, trailing blanks and NULs removed.
func asciiText(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ count: Int) -> String {
    var chars: [UInt8] = []
    for k in 0..<count {
        let c = bytes[offset + k]
        if c == 0 { break }
        chars.append(c >= 0x20 && c < 0x7F ? c : 0x3F)
    }
    while let last = chars.last, last == 0x20 { chars.removeLast() }
    return String(decoding: chars, as: UTF8.self)
}
