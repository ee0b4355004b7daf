// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Telling an MRC file from the other files a cryo-EM project holds, before reading its header
// field by field. Magic numbers: TIFF ("II*\0"/"MM\0*", TIFF 6.0), with EER told by the TIFF
// compression tag 65000-65002 (the EER format of Thermo Fisher Falcon 4 movies); HDF5 (89 "HDF"
// 0D 0A 1A 0A); PNG; JPEG. Files without a magic number are recognised only when their first
// 1024 bytes cannot be an MRC header (too short, unknown mode, sizes not positive): the EM format
// of TOM/EMAN (512-byte header: machine byte 0-6, data type 1/2/4/5/8/9, NX NY NZ, and a file
// size that matches), STAR files (data_ blocks), mmCIF (data_ with _atom_site), PDB (fixed-column
// records) and other text.

import AngpixCore
import AngpixCompression

/// What a file that is not an MRC file is.
public enum MRCContent {
    /// A description ("a TIFF image") of `bytes` when they are certainly not an MRC file, else nil.
    public static func nonMRCDescription(_ bytes: UnsafeRawBufferPointer) -> String? {
        if let strong = magicDescription(bytes) { return strong }
        if bytes.count >= 1024 {
            let h = MRCHeader.decode(bytes)
            let plausible = h.mode != nil && h.nx > 0 && h.ny > 0 && h.nz > 0
            if plausible { return nil }
        }
        return weakDescription(bytes)
    }

    /// Files with a magic number.
    static func magicDescription(_ b: UnsafeRawBufferPointer) -> String? {
        func starts(_ magic: [UInt8]) -> Bool { b.count >= magic.count && zip(b, magic).allSatisfy { $0 == $1 } }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) {
            if let c = tiffCompression(b), (65000...65002).contains(c) {
                return "an EER movie (TIFF with EER compression \(c)); angpix reads MRC files only"
            }
            return "a TIFF image (magic bytes \(b[0] == 0x49 ? "II*" : "MM*")); angpix reads MRC files only"
        }
        if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return "an HDF5 file; angpix reads MRC files only" }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "a PNG image; angpix reads MRC files only" }
        if starts([0xFF, 0xD8, 0xFF]) { return "a JPEG image; angpix reads MRC files only" }
        return nil
    }

    /// The compression tag (259) of a TIFF file's first image, if readable.
    static func tiffCompression(_ b: UnsafeRawBufferPointer) -> Int? {
        let little = b[0] == 0x49
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= b.count else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
            return lo | hi << 16
        }
        guard let ifd = u32(4), let n = u16(ifd) else { return nil }
        for k in 0..<min(n, 256) {
            let e = ifd + 2 + 12 * k
            guard let tag = u16(e) else { return nil }
            if tag == 259 { return u16(e + 8) }
        }
        return nil
    }

    /// Files without a magic number, recognised when they cannot be MRC files.
    static func weakDescription(_ b: UnsafeRawBufferPointer) -> String? {
        if b.count == 0 { return "an empty file" }
        if let em = emDescription(b) { return em }
        let head = Array(b.prefix(4096))
        let printable = head.allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || ($0 >= 0x20 && $0 < 0x7F) || $0 >= 0x80 }
        guard printable else { return nil }
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { $0.trimmingPrefixWhitespace() }
        let content = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        if content.contains(where: { $0.hasPrefix("data_") }) {
            if text.contains("_atom_site.") { return "an mmCIF model (text); angpix reads MRC files only" }
            return "a STAR file (text with data_ blocks); for STAR files use `angpix star info`"
        }
        let pdbRecords = ["ATOM  ", "HETATM", "HEADER", "CRYST1", "REMARK", "MODEL ", "TITLE "]
        if content.contains(where: { line in pdbRecords.contains(where: { line.hasPrefix($0) }) }) {
            return "a PDB model (text); angpix reads MRC files only"
        }
        return "a text file; angpix reads MRC files only"
    }

    /// The EM format (TOM toolbox, EMAN): a 512-byte header, then NX·NY·NZ values.
    static func emDescription(_ b: UnsafeRawBufferPointer) -> String? {
        guard b.count > 512, [0, 1, 2, 3, 5, 6].contains(b[0]), b[1] == 0 || b[1] == 1, b[2] == 0 else { return nil }
        let sizes: [UInt8: Int] = [1: 1, 2: 2, 4: 4, 5: 4, 8: 8, 9: 8]
        guard let size = sizes[b[3]] else { return nil }
        let little = b[0] == 6 || b[0] == 1
        func i32(_ o: Int) -> Int {
            let raw = b.loadUnaligned(fromByteOffset: o, as: Int32.self)
            return Int(little ? Int32(littleEndian: raw) : Int32(bigEndian: raw))
        }
        let nx = i32(4), ny = i32(8), nz = i32(12)
        guard nx > 0, ny > 0, nz > 0, nx < 1 << 16, ny < 1 << 16, nz < 1 << 16,
              512 + nx * ny * nz * size == b.count else { return nil }
        return "an EM-format file (TOM/EMAN, \(nx) × \(ny) × \(nz)); angpix reads MRC files only"
    }

    /// Opens `path` for reading as MRC: decompresses gzip and bzip2 (told by magic bytes) and
    /// throws `MRCError.notMRC` when the bytes are some other kind of file.
    public static func open(path: String) throws -> (file: MappedFile, compression: CompressionFormat?, storedSize: Int) {
        let stored = try MappedFile(path: path)
        let (file, compression) = try CompressedFile.open(path: path)
        if let what = nonMRCDescription(file.bytes) {
            throw MRCError.notMRC(path: path, what: compression.map { "\(what) (\($0.rawValue)-compressed)" } ?? what)
        }
        return (file, compression, stored.count)
    }
}

extension Substring {
    fileprivate func trimmingPrefixWhitespace() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        return s
    }
}
