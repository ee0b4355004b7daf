// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Image stacks (RELION's .mrcs: ISPG 0, NZ images of NX × NY, MZ 1). The reader memory-maps the
// file and decodes one image at a time, releasing pages it has read, so a stack of many GB is
// processed with memory bounded by the images in flight. The writer streams images to an atomic
// output file and writes the header (with the statistics of all images) last.

import Foundation
import AngpixCore

/// Reads the images of an MRC stack one at a time. Safe to use from several threads at once.
public final class MRCStackReader: @unchecked Sendable {
    public let path: String
    /// The opened, checked file.
    public let mapped: MRCMappedFile
    /// Number of images (sections).
    public let count: Int
    public let nx: Int
    public let ny: Int
    /// The pixel size in Å from the header.
    public let pixelSize: Double

    /// Opens `path` and checks its header against the file size.
    ///
    /// A stack whose MAPC MAPR MAPS is not 1 2 3 (nor the unset 0 0 0) is refused with an error
    /// naming the file and the order. Such stacks are rare, and no reading of them is safe: RELION
    /// reads stacks as stored, ignoring the order, so the particle metadata (origins, angles) it
    /// wrote refer to the stored layout, while the header says the images are transposed or that
    /// each "image" is a slice across the stack. Reading either way would silently disagree with
    /// RELION or with the file; refusing makes the user rewrite the stack in the standard order.
    public init(path: String) throws {
        self.path = path
        mapped = try MRCMappedFile(path: path)
        let h = mapped.header
        if !h.axisOrderIsStandard && !(h.mapc == 0 && h.mapr == 0 && h.maps == 0) {
            throw MRCError.stackAxisOrder(path: path, mapc: h.mapc, mapr: h.mapr, maps: h.maps)
        }
        count = mapped.header.nz
        nx = mapped.header.nx
        ny = mapped.header.ny
        pixelSize = mapped.header.pixelSize
    }

    /// The header of the stack.
    public var header: MRCHeader { mapped.header }

    /// Image `index` (0-based) as nx·ny Floats.
    public func image(_ index: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: nx * ny)
        try out.withUnsafeMutableBufferPointer { try readImage(index, into: $0) }
        return out
    }

    /// Decodes image `index` (0-based) into `into`, which must hold nx·ny Floats.
    public func readImage(_ index: Int, into: UnsafeMutableBufferPointer<Float>) throws {
        try readImages(index..<(index + 1), into: into)
    }

    /// Decodes images `range` (0-based) into `into`, which must hold nx·ny·range.count Floats.
    public func readImages(_ range: Range<Int>, into: UnsafeMutableBufferPointer<Float>) throws {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw MRCError.imageOutOfRange(path: path, index: range.lowerBound < 0 ? range.lowerBound : range.upperBound - 1,
                                           count: count)
        }
        guard into.count == nx * ny * range.count else {
            throw MRCError.wrongImageSize(path: path, expected: nx * ny * range.count, actual: into.count)
        }
        mapped.decodeSections(range, into: into.baseAddress!)
    }

    /// Lets the kernel drop the pages of images `range` once they have been read (optional; keeps
    /// the resident memory small when a stack of many GB is read once from start to end).
    public func release(_ range: Range<Int>) {
        mapped.release(range)
    }
}

/// Writes an MRC image stack (ISPG 0, MZ 1) image by image, atomically: nothing appears at the
/// destination until `commit()`, and a writer dropped without `commit()` leaves nothing behind.
public final class MRCStackWriter {
    public let path: String
    public let nx: Int
    public let ny: Int
    public let pixelSize: Double
    public let options: MRCWriteOptions
    /// The z voxel size written in the header (CELLA z, MZ 1); nil: the pixel size. RELION's
    /// relion_image_handler keeps the input stack's z voxel size when it rescales a stack.
    public var zVoxelSize: Double?
    /// Images appended so far.
    public private(set) var count = 0
    private let writer: AtomicFileWriter
    private var statistics = MRCStatistics()
    private var committed = false

    /// Opens a temporary file beside `path` (after checking `policy`) for images of nx × ny.
    public init(path: String, nx: Int, ny: Int, pixelSize: Double, policy: OutputPolicy,
                options: MRCWriteOptions = MRCWriteOptions()) throws {
        guard nx > 0, ny > 0 else { throw MRCError.badDimensions(path: path, nx: nx, ny: ny, nz: 1) }
        guard options.mode.isWritable else { throw MRCError.unsupportedWriteMode(path: path, mode: options.mode.rawValue) }
        self.path = path
        self.nx = nx; self.ny = ny
        self.pixelSize = pixelSize
        self.options = options
        writer = try AtomicFileWriter(destination: path, policy: policy, bufferSize: 4 << 20)
        // Space for the header, written for real on commit.
        try writer.write([UInt8](repeating: 0, count: 1024))
    }

    /// Appends one image of nx·ny Floats (or several consecutive images: any multiple of nx·ny).
    public func append(_ image: UnsafeBufferPointer<Float>) throws {
        let size = nx * ny
        guard image.count > 0, image.count % size == 0 else {
            throw MRCError.wrongImageSize(path: path, expected: size, actual: image.count)
        }
        statistics.merge(MRCStatistics.of(image))
        try MRCFile.writeVoxels(image, mode: options.mode, order: options.byteOrder, to: writer)
        count += image.count / size
    }

    /// Appends one image given as an array.
    public func append(_ image: [Float]) throws {
        try image.withUnsafeBufferPointer { try append($0) }
    }

    /// The header that `commit()` writes.
    public var header: MRCHeader {
        var map = MRCMap(nx: nx, ny: ny, nz: max(1, count), pixelSize: pixelSize, data: [])
        map.start = MRCTriple(0, 0, 0)
        var h = MRCFile.header(for: map, isStack: true, statistics: statistics, options: options)
        if let z = zVoxelSize, z > 0, z.isFinite { h.cella.z = Float(z * Double(h.mz)) }
        return h
    }

    /// Writes the header and moves the stack to its destination.
    public func commit() throws {
        guard !committed else { return }
        guard count > 0 else {
            writer.abort()
            throw MRCError.badDimensions(path: path, nx: nx, ny: ny, nz: 0)
        }
        try writer.flush()
        let bytes = header.encoded()
        let fd = open(writer.temporaryPath, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = systemErrorDescription(errno)
            writer.abort()
            throw CoreError.cannotWrite(path: path, reason: reason)
        }
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 1024, 0) }
        let writeErrno = errno
        close(fd)
        guard written == 1024 else {
            writer.abort()
            throw CoreError.cannotWrite(path: path, reason: systemErrorDescription(writeErrno))
        }
        try writer.commit()
        committed = true
    }

    /// Discards everything written; the destination is untouched.
    public func abort() {
        writer.abort()
    }
}
