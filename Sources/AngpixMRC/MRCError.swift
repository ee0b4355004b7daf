// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the MRC module. Each prints as one line naming the file and the problem, e.g.
//   map.mrc: truncated: the header describes 1049600 bytes, the file has 4096

import AngpixCore

/// Why an MRC file could not be read or written.
public enum MRCError: AngpixError, Equatable {
    /// The file is shorter than the 1024-byte header.
    case tooShortForHeader(path: String, size: Int)
    /// The header's MODE is not one angpix knows.
    case unknownMode(path: String, mode: Int32)
    /// The mode is known but cannot be written (mode 101 is read-only).
    case unsupportedWriteMode(path: String, mode: Int32)
    /// NX, NY or NZ is zero or negative.
    case badDimensions(path: String, nx: Int, ny: Int, nz: Int)
    /// The extended header size is negative or runs past the end of the file.
    case badExtendedHeader(path: String, nsymbt: Int, fileSize: Int)
    /// The file ends before the voxels the header describes.
    case truncated(path: String, expected: Int, actual: Int)
    /// The file holds more bytes than the header describes.
    case sizeMismatch(path: String, expected: Int, actual: Int)
    /// An image index outside the stack.
    case imageOutOfRange(path: String, index: Int, count: Int)
    /// A buffer or image whose size differs from the stack's image size.
    case wrongImageSize(path: String, expected: Int, actual: Int)
    /// The data array does not hold nx·ny·nz values.
    case wrongDataCount(path: String, expected: Int, actual: Int)
    /// MAPC MAPR MAPS is not a permutation of 1 2 3 (nor the unset 0 0 0).
    case badAxisOrder(path: String, mapc: Int, mapr: Int, maps: Int)
    /// An image stack whose axis order is not 1 2 3 (refused: see MRCStackReader).
    case stackAxisOrder(path: String, mapc: Int, mapr: Int, maps: Int)
    /// The file is some other kind of file (`what` says which: see MRCContent).
    case notMRC(path: String, what: String)
    /// The header gives no voxel size (CELLA 0) and the operation needs one; `remedy` says how to
    /// give it (e.g. "give it with --input-angpix").
    case unknownPixelSize(path: String, operation: String, remedy: String)

    public var description: String {
        switch self {
        case .tooShortForHeader(let p, let size):
            return "\(p): not an MRC file: \(size) bytes, shorter than the 1024-byte header"
        case .unknownMode(let p, let mode):
            return "\(p): unknown MRC mode \(mode) (known: 0, 1, 2, 6, 12, 101)"
        case .unsupportedWriteMode(let p, let mode):
            return "\(p): MRC mode \(mode) can be read but not written"
        case .badDimensions(let p, let nx, let ny, let nz):
            return "\(p): bad dimensions in the header: \(nx) × \(ny) × \(nz)"
        case .badExtendedHeader(let p, let n, let size):
            return "\(p): bad extended header size NSYMBT = \(n) for a file of \(size) bytes"
        case .truncated(let p, let expected, let actual):
            return "\(p): truncated: the header describes \(expected) bytes, the file has \(actual)"
        case .sizeMismatch(let p, let expected, let actual):
            return "\(p): the header's sizes disagree with the file size: it describes \(expected) bytes, the file has \(actual)"
        case .imageOutOfRange(let p, let index, let count):
            return "\(p): image \(index + 1) does not exist (the stack has \(count) images)"
        case .wrongImageSize(let p, let expected, let actual):
            return "\(p): image of \(actual) pixels given, the stack's images have \(expected)"
        case .wrongDataCount(let p, let expected, let actual):
            return "\(p): the map holds \(actual) values, its dimensions need \(expected)"
        case .badAxisOrder(let p, let c, let r, let s):
            return "\(p): axis order MAPC MAPR MAPS = \(c) \(r) \(s) is not a permutation of 1 2 3"
        case .notMRC(let p, let what):
            return "\(p): not an MRC file: \(what)"
        case .unknownPixelSize(let p, let operation, let remedy):
            return "\(p): the header gives no pixel size (CELLA 0 0 0); \(operation) needs one: \(remedy)"
        case .stackAxisOrder(let p, let c, let r, let s):
            return "\(p): image stack with axis order MAPC MAPR MAPS = \(c) \(r) \(s), not 1 2 3: angpix does not read permuted stacks (RELION reads them as stored, ignoring the order); rewrite it with columns = x, rows = y, sections = images"
        }
    }
}
