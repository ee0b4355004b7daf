// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Reading and writing whole MRC2014 maps (volumes, single images, small stacks). Files are
// memory-mapped (AngpixCore.MappedFile) and checked against their header before any voxel is read:
// a truncated file, sizes that disagree with the file size, an unknown mode are errors naming the
// file. Writing is float32 by default, with a complete MRC2014 header (MAP word, machine stamp,
// DMIN/DMAX/DMEAN/RMS, NVERSION 20140, ISPG 1 for a volume and 0 for an image or image stack),
// through AtomicFileWriter so that no half-written file is ever left behind.
//
// Axis order. A file whose MAPC MAPR MAPS is a permutation other than 1 2 3 (older CCP4 programs,
// some X-ray tools) stores, e.g., x along its sections. `readMap` returns every map in x, y, z
// order (x fastest): it permutes the data, the sizes and NXSTART... (which MRC2014 defines per
// column, row, section), while the voxel size (CELLA / MX...) and ORIGIN are per x, y, z already.
// Writing always uses 1 2 3. What others do: RELION 3.1 (rwMRC.h) ignores MAPC MAPR MAPS (it
// neither reads nor checks them, so such a map comes out with its axes swapped); mrcfile 1.5
// returns the data as stored (shape NZ, NY, NX) and its validator only checks that the three
// values are a permutation of 1 2 3. We permute because the file says unambiguously where x, y
// and z are, and a transposed map silently gives a wrong FSC, a wrong model fit and a wrong pixel
// size in `calibrate`, `postprocess` and `map rescale`; reading as stored would only agree with
// RELION's mistake. `map info` shows the order and warns that RELION and mrcfile read such a file
// differently. MAPC MAPR MAPS = 0 0 0 (never set) is taken as 1 2 3; any other non-permutation is
// an error. Image stacks with a non-standard order are refused (see MRCStackReader).

import Foundation
import AngpixCore
import AngpixCompression

/// A map or stack held in memory as Floats: x fastest, then y, then z (index = (z·ny + y)·nx + x).
public struct MRCMap: Sendable {
    public var nx: Int, ny: Int, nz: Int
    /// The voxel size in Å.
    public var pixelSize: Double
    public var data: [Float]
    /// Origin in Å (MRC2014 ORIGIN); kept when a map is read and written back.
    public var origin: MRCTriple<Float> = MRCTriple(0, 0, 0)
    /// NXSTART, NYSTART, NZSTART.
    public var start: MRCTriple<Int> = MRCTriple(0, 0, 0)

    public init(nx: Int, ny: Int, nz: Int, pixelSize: Double, data: [Float]) {
        self.nx = nx; self.ny = ny; self.nz = nz
        self.pixelSize = pixelSize
        self.data = data
    }

    /// A map of zeros.
    public init(nx: Int, ny: Int, nz: Int, pixelSize: Double) {
        self.init(nx: nx, ny: ny, nz: nz, pixelSize: pixelSize, data: [Float](repeating: 0, count: nx * ny * nz))
    }

    /// The number of voxels.
    public var count: Int { nx * ny * nz }

    /// The voxel at (x, y, z).
    public subscript(x: Int, y: Int, z: Int) -> Float {
        get { data[(z * ny + y) * nx + x] }
        set { data[(z * ny + y) * nx + x] = newValue }
    }
}

/// Options for writing an MRC file.
public struct MRCWriteOptions: Sendable {
    /// The voxel type (float32 unless asked otherwise).
    public var mode: MRCMode = .float32
    /// The byte order (the machine's unless asked otherwise).
    public var byteOrder: MRCByteOrder = .native
    /// Labels written in the header (at most ten of 80 characters).
    public var labels: [String] = ["angpix"]
    public init(mode: MRCMode = .float32, byteOrder: MRCByteOrder = .native, labels: [String] = ["angpix"]) {
        self.mode = mode; self.byteOrder = byteOrder; self.labels = labels
    }
}

/// An MRC file opened and checked: the mapping and its decoded header.
public final class MRCMappedFile: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    public let header: MRCHeader
    public let mode: MRCMode
    /// The compression the file was stored with (nil: none; then `file` is the mapping itself).
    public let compression: CompressionFormat?

    /// Maps `path` (decompressing gzip or bzip2 into memory) and checks its header against the
    /// file size; a file of another kind (TIFF, EER, STAR, text...) is refused as such.
    public convenience init(path: String) throws {
        let (file, compression, _) = try MRCContent.open(path: path)
        guard file.count >= 1024 else { throw MRCError.tooShortForHeader(path: path, size: file.count) }
        try self.init(header: MRCHeader.decode(file.bytes), file: file, compression: compression)
    }

    /// Checks `header` (decoded from `file`) against the file size.
    init(header h: MRCHeader, file: MappedFile, compression: CompressionFormat?) throws {
        let path = file.path
        self.path = path
        self.file = file
        self.compression = compression
        header = h
        guard let m = h.mode else { throw MRCError.unknownMode(path: path, mode: h.modeRaw) }
        mode = m
        guard h.nx > 0, h.ny > 0, h.nz > 0 else {
            throw MRCError.badDimensions(path: path, nx: h.nx, ny: h.ny, nz: h.nz)
        }
        guard h.nsymbt >= 0, 1024 + h.nsymbt <= file.count else {
            throw MRCError.badExtendedHeader(path: path, nsymbt: h.nsymbt, fileSize: file.count)
        }
        // Overflow-safe size check (a garbage header can describe exabytes).
        let (rowsTimesSections, o1) = h.ny.multipliedReportingOverflow(by: h.nz)
        let (data, o2) = m.bytesPerRow(h.nx).multipliedReportingOverflow(by: rowsTimesSections)
        let (expected, o3) = data.addingReportingOverflow(h.dataOffset)
        if o1 || o2 || o3 || expected > file.count {
            throw MRCError.truncated(path: path, expected: (o1 || o2 || o3) ? Int.max : expected, actual: file.count)
        }
        if expected < file.count {
            throw MRCError.sizeMismatch(path: path, expected: expected, actual: file.count)
        }
    }

    /// The bytes of section `z` (nx × ny voxels).
    public func sectionBytes(_ z: Int) -> UnsafeRawPointer {
        file.bytes.baseAddress! + header.dataOffset + z * header.sectionByteCount
    }

    /// Decodes sections `range` into `destination` (nx·ny·range.count Floats).
    public func decodeSections(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        MRCVoxels.decode(sectionBytes(range.lowerBound), mode: mode, order: header.byteOrder,
                         nx: header.nx, rows: header.ny * range.count, unsignedBytes: header.bytesAreUnsigned,
                         into: destination)
    }

    /// Tells the kernel that the pages wholly inside sections `range` are no longer needed, so
    /// that reading a stack of many GB keeps the resident memory small.
    public func release(_ range: Range<Int>) {
        guard !range.isEmpty, let base = file.bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = header.dataOffset + range.lowerBound * header.sectionByteCount
        let end = header.dataOffset + range.upperBound * header.sectionByteCount
        let alignedStart = (start + page - 1) / page * page
        let alignedEnd = end / page * page
        if alignedEnd > alignedStart {
            madvise(UnsafeMutableRawPointer(mutating: base + alignedStart), alignedEnd - alignedStart, MADV_DONTNEED)
        }
    }
}

/// Reading and writing whole MRC files.
public enum MRCFile {
    /// Reads the header of `path` after checking it against the file size.
    public static func readHeader(path: String) throws -> MRCHeader {
        try MRCMappedFile(path: path).header
    }

    /// Reads a whole map (any supported mode, either byte order) as Floats, in x, y, z order
    /// whatever the file's MAPC MAPR MAPS (see the top of this file).
    public static func readMap(path: String) throws -> MRCMap {
        let f = try MRCMappedFile(path: path)
        let h = f.header
        if !h.axisOrderIsValid && !(h.mapc == 0 && h.mapr == 0 && h.maps == 0) {
            throw MRCError.badAxisOrder(path: path, mapc: h.mapc, mapr: h.mapr, maps: h.maps)
        }
        let size = h.mapSize
        var map = MRCMap(nx: size.x, ny: size.y, nz: size.z, pixelSize: h.pixelSize)
        map.origin = h.origin
        map.start = h.mapStart
        let section = h.nx * h.ny
        if !h.axisOrderIsValid || h.axisOrderIsStandard {
            let ranges = splitRange(h.nz, into: h.nz >= 8 ? Parallelism.jobs * 2 : 1)
            map.data.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let base = out.baseAddress!
                parallelForEach(ranges.count) { i in
                    let r = ranges[i]
                    f.decodeSections(r, into: base + r.lowerBound * section)
                }
            }
            return map
        }
        // Permuted: decode a few stored sections at a time and scatter each voxel (column c,
        // row r, section s) to its x, y, z place. The strides in the x-fastest output of the
        // axes that the columns, rows and sections run along:
        let xyzStride = [1, size.x, size.x * size.y]
        let sc = xyzStride[h.mapc - 1], sr = xyzStride[h.mapr - 1], ss = xyzStride[h.maps - 1]
        let nc = h.nx, nr = h.ny
        let ranges = splitRange(h.nz, into: h.nz >= 8 ? Parallelism.jobs * 2 : 1)
        map.data.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let base = out.baseAddress!
            parallelForEach(ranges.count) { i in
                let per = max(1, (1 << 18) / section)
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: section * per)
                defer { buffer.deallocate() }
                var s0 = ranges[i].lowerBound
                while s0 < ranges[i].upperBound {
                    let n = min(per, ranges[i].upperBound - s0)
                    f.decodeSections(s0..<(s0 + n), into: buffer)
                    for k in 0..<n {
                        let src = buffer + k * section
                        let dst = base + (s0 + k) * ss
                        for r in 0..<nr {
                            let row = src + r * nc
                            let d = dst + r * sr
                            for c in 0..<nc { d[c * sc] = row[c] }
                        }
                    }
                    s0 += n
                }
            }
        }
        return map
    }

    /// The header angpix writes for `map`: float32 (or `options.mode`), statistics of the data,
    /// voxel size, origin, ISPG 1 for a volume and 0 for an image or an image stack.
    public static func header(for map: MRCMap, isStack: Bool, statistics: MRCStatistics,
                              options: MRCWriteOptions = MRCWriteOptions()) -> MRCHeader {
        var h = MRCHeader()
        h.nx = map.nx; h.ny = map.ny; h.nz = map.nz
        h.modeRaw = options.mode.rawValue
        h.nxstart = map.start.x; h.nystart = map.start.y; h.nzstart = map.start.z
        h.ispg = (isStack || map.nz == 1) ? 0 : 1
        h.setPixelSize(map.pixelSize)
        h.origin = map.origin
        h.dmin = Float(statistics.count > 0 ? statistics.min : 0)
        h.dmax = Float(statistics.count > 0 ? statistics.max : 0)
        h.dmean = Float(statistics.mean)
        h.rms = Float(statistics.rms)
        h.byteOrder = options.byteOrder
        h.machineStamp = options.byteOrder == .little ? [0x44, 0x44, 0, 0] : [0x11, 0x11, 0, 0]
        h.labels = options.labels
        return h
    }

    /// Writes `map` to `path` atomically (float32 unless `options` says otherwise).
    /// `isStack` marks a stack of 2D images (ISPG 0, MZ 1, RELION's .mrcs).
    public static func write(_ map: MRCMap, to path: String, policy: OutputPolicy, isStack: Bool = false,
                             options: MRCWriteOptions = MRCWriteOptions()) throws {
        guard map.nx > 0, map.ny > 0, map.nz > 0 else {
            throw MRCError.badDimensions(path: path, nx: map.nx, ny: map.ny, nz: map.nz)
        }
        guard map.data.count == map.count else {
            throw MRCError.wrongDataCount(path: path, expected: map.count, actual: map.data.count)
        }
        guard options.mode.isWritable else { throw MRCError.unsupportedWriteMode(path: path, mode: options.mode.rawValue) }
        let stats = MRCStatistics.of(map.data)
        let h = header(for: map, isStack: isStack, statistics: stats, options: options)
        let writer = try AtomicFileWriter(destination: path, policy: policy, bufferSize: 4 << 20)
        try writer.write(h.encoded())
        try map.data.withUnsafeBufferPointer { try writeVoxels($0, mode: options.mode, order: options.byteOrder, to: writer) }
        try writer.commit()
    }

    /// Writes a new header over a copy of `input` (the voxels are copied unchanged), atomically.
    public static func rewriteHeader(input: String, output: String, policy: OutputPolicy,
                                     _ change: (inout MRCHeader) -> Void) throws {
        let f = try MRCMappedFile(path: input)
        var h = f.header
        change(&h)
        // The voxels are copied as they are, so the header keeps the input's byte order.
        h.byteOrder = f.header.byteOrder
        var bytes = h.encoded()
        // Keep the machine stamp's last two bytes and any non-standard first bytes as they were.
        if !f.header.machineStampValid { for k in 0..<4 { bytes[212 + k] = f.header.machineStamp[k] } }
        let writer = try AtomicFileWriter(destination: output, policy: policy, bufferSize: 4 << 20)
        try writer.write(bytes)
        try writer.write(UnsafeRawBufferPointer(rebasing: f.file.bytes[1024...]))
        try writer.commit()
    }

    /// Writes Floats in `mode` and `order` through `writer`, a block at a time.
    static func writeVoxels(_ values: UnsafeBufferPointer<Float>, mode: MRCMode, order: MRCByteOrder,
                            to writer: AtomicFileWriter) throws {
        guard let base = values.baseAddress, values.count > 0 else { return }
        if mode == .float32 && order == .native {
            try writer.write(UnsafeRawBufferPointer(values))
            return
        }
        let block = 1 << 18
        let bytesPer = mode.bytesPerRow(2) / 2
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: block * 4, alignment: 16)
        defer { scratch.deallocate() }
        var k = 0
        while k < values.count {
            let n = min(block, values.count - k)
            MRCVoxels.encode(base + k, count: n, mode: mode, order: order, into: scratch)
            try writer.write(UnsafeRawBufferPointer(start: scratch, count: n * bytesPer))
            k += n
        }
    }
}
