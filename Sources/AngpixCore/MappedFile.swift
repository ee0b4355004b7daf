// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Read-only memory-mapped files: STAR files of hundreds of MB and particle stacks of many GB are
// read through the page cache without copying them into the process.

import Foundation

/// A file mapped read-only into memory. The bytes stay valid as long as the object lives.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?
    /// Whether `base` was allocated (bytes held in memory) rather than mapped.
    private let allocated: Bool

    /// The file's bytes.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Maps `path`; throws `CoreError.fileNotFound` or `.cannotRead` with the system's reason.
    public init(path: String) throws {
        self.path = path
        allocated = false
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw CoreError.fileNotFound(path: path) }
            throw CoreError.cannotRead(path: path, reason: systemErrorDescription(errno))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CoreError.cannotRead(path: path, reason: systemErrorDescription(errno))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw CoreError.cannotRead(path: path, reason: "it is a folder")
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        if mapped == MAP_FAILED || mapped == nil {
            throw CoreError.cannotRead(path: path, reason: systemErrorDescription(errno))
        }
        base = mapped
        madvise(mapped, count, MADV_SEQUENTIAL)
    }

    /// Bytes held in memory under the name `path` (e.g. a decompressed file), read like a mapping.
    public init(path: String, contents: [UInt8]) {
        self.path = path
        let n = contents.count
        count = n
        allocated = true
        if n == 0 {
            base = nil
        } else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 16)
            contents.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
            base = p
        }
    }

    deinit {
        guard let base else { return }
        if allocated { base.deallocate() } else { munmap(base, count) }
    }
}
