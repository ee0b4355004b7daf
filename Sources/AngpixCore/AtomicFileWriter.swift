// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Atomic output files: everything angpix writes goes to a temporary file in the destination's
// folder and is renamed over the destination only when complete, so a reader (or a crash, a full
// disk, a SIGKILL) never sees a half-written file. An existing destination is replaced only when
// the caller allows it, and never when it is one of the command's inputs.
//
// Durability: the rename already protects against a killed or failing angpix and a full disk. A
// power cut or kernel crash within the kernel's writeback delay (about 30 s) after the rename can
// additionally leave an empty destination on some filesystems unless the data was fsync'ed before
// the rename. That fsync costs the disk's full write time (0.9 s for a 400 MB STAR file on the
// development machine, twice the whole parse-and-write time), and the tools of the field (RELION,
// starfile, mrcfile, gemmi) do not pay it, so it is opt-in: `OutputPolicy.durable`, on when the
// environment sets ANGPIX_SYNC=1. Inputs are never written, so without it only a freshly written,
// regenerable output is at risk.

import Foundation

/// Rules for replacing an existing destination.
public struct OutputPolicy: Sendable {
    /// Replace an existing destination (the `--force` flag).
    public var overwrite: Bool
    /// Files the command reads; the destination must not be one of them.
    public var inputs: [String]
    /// fsync the file before renaming it into place (see the file header); defaults to whether
    /// the environment variable ANGPIX_SYNC is set to 1.
    public var durable: Bool

    public init(overwrite: Bool = false, inputs: [String] = [], durable: Bool = OutputPolicy.durableByDefault) {
        self.overwrite = overwrite
        self.inputs = inputs
        self.durable = durable
    }

    /// Whether ANGPIX_SYNC=1 is set in the environment.
    public static var durableByDefault: Bool {
        ProcessInfo.processInfo.environment["ANGPIX_SYNC"] == "1"
    }

    /// Throws if writing `path` would break the rules.
    public func check(_ path: String) throws {
        let destination = canonicalPath(path)
        for input in inputs where canonicalPath(input) == destination {
            throw CoreError.outputIsInput(path: path)
        }
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw CoreError.outputExists(path: path)
        }
    }
}

/// The absolute path with symbolic links resolved (or the absolute path, if it does not exist).
public func canonicalPath(_ path: String) -> String {
    if let resolved = realpath(path, nil) {
        defer { free(resolved) }
        return String(cString: resolved)
    }
    return URL(fileURLWithPath: path).standardizedFileURL.path
}

/// A buffered writer to a temporary file that becomes `destination` on `commit()`.
///
/// If the writer is discarded, or `abort()` is called, or any write fails, the temporary file is
/// removed and the destination is left exactly as it was.
public final class AtomicFileWriter {
    public let destination: String
    public let temporaryPath: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private var used = 0
    private let capacity: Int
    private var finished = false
    /// Bytes written so far.
    public private(set) var bytesWritten: Int64 = 0
    private let durable: Bool

    /// Opens a temporary file beside `destination` after checking `policy`.
    public init(destination: String, policy: OutputPolicy = OutputPolicy(), bufferSize: Int = 1 << 20) throws {
        try policy.check(destination)
        self.destination = destination
        durable = policy.durable
        let url = URL(fileURLWithPath: destination)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CoreError.cannotWrite(path: destination, reason: "folder \(folder) does not exist")
        }
        let name = ".\(url.lastPathComponent).angpix-tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        temporaryPath = (folder as NSString).appendingPathComponent(name)
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw CoreError.cannotWrite(path: destination, reason: systemErrorDescription(errno))
        }
        capacity = bufferSize
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        if !finished { abort() }
        buffer.deallocate()
    }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if used + bytes.count <= capacity {
            (buffer + used).copyMemory(from: base, byteCount: bytes.count)
            used += bytes.count
            return
        }
        try flush()
        if bytes.count >= capacity {
            try writeFully(base, bytes.count)
        } else {
            buffer.copyMemory(from: base, byteCount: bytes.count)
            used = bytes.count
        }
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    public func write(_ string: String) throws {
        var s = string
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes out the buffer.
    public func flush() throws {
        if used > 0 {
            try writeFully(buffer, used)
            used = 0
        }
    }

    private func writeFully(_ pointer: UnsafeRawPointer, _ count: Int) throws {
        var offset = 0
        while offset < count {
            let n = Glibc.write(fd, pointer + offset, count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = systemErrorDescription(errno)
                abort()
                throw CoreError.cannotWrite(path: destination, reason: reason)
            }
            offset += n
        }
        bytesWritten += Int64(count)
    }

    /// Flushes, syncs if the policy is durable, and renames the temporary file over the destination.
    public func commit() throws {
        guard !finished else { return }
        try flush()
        if durable && fsync(fd) != 0 {
            let reason = systemErrorDescription(errno)
            abort()
            throw CoreError.cannotWrite(path: destination, reason: reason)
        }
        close(fd)
        fd = -1
        if rename(temporaryPath, destination) != 0 {
            let reason = systemErrorDescription(errno)
            unlink(temporaryPath)
            finished = true
            throw CoreError.cannotWrite(path: destination, reason: reason)
        }
        finished = true
    }

    /// Removes the temporary file; the destination is untouched.
    public func abort() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
    }
}

/// Writes `data` to `path` atomically.
public func writeFileAtomically(_ data: Data, to path: String, policy: OutputPolicy = OutputPolicy()) throws {
    let writer = try AtomicFileWriter(destination: path, policy: policy)
    try writer.write(data)
    try writer.commit()
}

/// Writes `text` (UTF-8) to `path` atomically.
public func writeFileAtomically(_ text: String, to path: String, policy: OutputPolicy = OutputPolicy()) throws {
    try writeFileAtomically(Data(text.utf8), to: path, policy: policy)
}
