// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Rescaling the stacks of a plan: each stack is read and written image by image (memory bounded
// by a few images per core), written atomically (MRCStackWriter: temporary file renamed on commit),
// and recorded (StackRecord) so that a rerun skips it. Work is spread over the cores either by
// stack (many stacks: one stack per worker, no coordination) or by image within a stack (few large
// stacks: batches of images rescaled in parallel, appended in order).

import Foundation
import AngpixCore
import AngpixMRC

/// One stack to produce.
struct StackJob: Sendable {
    /// The stack path as written in the STAR file (for messages).
    var label: String
    /// Where to read it.
    var source: String
    /// Where to write it.
    var output: String
    var rescale: GroupRescale
    /// Highest image number referenced (from 1) and the first particle row (from 1) referencing it.
    var maxIndex: Int
    var maxIndexRow: Int
    var firstRow: Int
}

/// What happened to the stacks of a run.
public struct StackTotals: Sendable, Codable, Equatable {
    /// Stacks rescaled in this run, and their images.
    public var rescaledStacks = 0, rescaledImages = 0
    /// Stacks found complete and correct and skipped, and their images.
    public var skippedStacks = 0, skippedImages = 0
    public init() {}
}

/// Opens every stack of `jobs` and checks it against the STAR file (exists, box, image count).
/// Returns the image count of each.
func checkSources(_ jobs: [StackJob], file: String) throws -> [Int] {
    var counts = [Int](repeating: 0, count: jobs.count)
    for (k, job) in jobs.enumerated() {
        guard FileManager.default.fileExists(atPath: job.source) else {
            throw ParticlesError.badStack(stack: job.label, file: file, row: job.firstRow, reason: "no such file")
        }
        let reader: MRCStackReader
        do {
            reader = try MRCStackReader(path: job.source)
        } catch {
            throw ParticlesError.badStack(stack: job.label, file: file, row: job.firstRow, reason: "\(error)")
        }
        let box = job.rescale.oldBox
        guard reader.nx == box, reader.ny == box else {
            throw ParticlesError.badStack(stack: job.label, file: file, row: job.firstRow,
                reason: "images are \(reader.nx)×\(reader.ny) but optics group \(job.rescale.opticsGroup) says rlnImageSize \(box)")
        }
        guard reader.count >= job.maxIndex else {
            throw ParticlesError.badStack(stack: job.label, file: file, row: job.maxIndexRow,
                reason: "image \(job.maxIndex) is referenced but the stack has \(reader.count) images")
        }
        counts[k] = reader.count
    }
    return counts
}

/// The record a correctly rescaled stack of `job` would have (without size and checksum).
func expectedRecord(_ job: StackJob, images: Int) -> StackRecord? {
    guard let identity = fileIdentity(job.source) else { return nil }
    return StackRecord(source: canonicalPath(job.source), sourceBytes: identity.bytes, sourceModified: identity.modified,
                       sourceBox: job.rescale.oldBox, sourcePixelSize: job.rescale.oldPixelSize,
                       images: images, box: job.rescale.finalBox, pixelSize: job.rescale.newPixelSize,
                       bytes: 0, checksum: "")
}

/// Whether the output of `job` is already complete and correct (see StackRecord for the rule).
func isComplete(_ job: StackJob, images: Int) -> Bool {
    guard var expected = expectedRecord(job, images: images),
          let record = StackRecord.read(stackPath: job.output),
          let identity = fileIdentity(job.output) else { return false }
    expected.bytes = record.bytes
    expected.checksum = record.checksum
    guard record == expected, identity.bytes == record.bytes else { return false }
    guard let header = try? MRCFile.readHeader(path: job.output),
          header.nx == job.rescale.finalBox, header.ny == job.rescale.finalBox, header.nz == images,
          header.mode == .float32,
          abs(header.pixelSize - job.rescale.newPixelSize) <= 1e-5 * job.rescale.newPixelSize,
          Int64(header.dataOffset + header.dataByteCount) == identity.bytes else { return false }
    let imageBytes = job.rescale.finalBox * job.rescale.finalBox * 4
    guard let sum = try? ImageDataChecksum.ofFileTail(path: job.output, images: images, imageBytes: imageBytes) else {
        return false
    }
    return sum == record.checksum
}

/// Removes temporary files that an interrupted run left beside `output` (and its record).
func removeStaleTemporaries(of output: String) {
    let url = URL(fileURLWithPath: output)
    let folder = url.deletingLastPathComponent().path
    let name = url.lastPathComponent
    let prefixes = [".\(name).angpix-tmp-", ".\(name).angpix.json.angpix-tmp-"]
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    for entry in entries where prefixes.contains(where: { entry.hasPrefix($0) }) {
        unlink((folder as NSString).appendingPathComponent(entry))
    }
}

/// A thread-safe counter of images done, reporting to a progress handler.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    let total: Int
    let handler: ProgressHandler?
    init(total: Int, handler: ProgressHandler?) { self.total = total; self.handler = handler }
    func add(_ n: Int) {
        lock.lock(); done += n; let d = done; lock.unlock()
        handler?(d, total)
    }
}

/// The first error thrown by any worker.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    var error: Error? { lock.lock(); defer { lock.unlock() }; return stored }
    func record(_ e: Error) { lock.lock(); if stored == nil { stored = e }; lock.unlock() }
}

/// Rescales `job` on the calling thread, one image at a time.
func rescaleStackSerially(_ job: StackJob, images: Int, rescaler: ImageRescaler, progress: ProgressCounter,
                          policy: OutputPolicy, cancelled: () -> Bool) throws {
    removeStaleTemporaries(of: job.output)
    try rescaler.prepare(for: job.rescale)
    let reader = try MRCStackReader(path: job.source)
    let box = job.rescale.finalBox
    let writer = try MRCStackWriter(path: job.output, nx: box, ny: box, pixelSize: job.rescale.newPixelSize, policy: policy)
    var input = [Float](repeating: 0, count: job.rescale.oldBox * job.rescale.oldBox)
    var output = [Float](repeating: 0, count: box * box)
    var sum = ImageDataChecksum()
    var pending = 0
    for n in 0..<images {
        if cancelled() { writer.abort(); return }
        try input.withUnsafeMutableBufferPointer { try reader.readImage(n, into: $0) }
        input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in rescaler.rescale(i, into: o, job.rescale) }
        }
        try output.withUnsafeBufferPointer { o in
            sum.add(UnsafeRawBufferPointer(o))
            try writer.append(o)
        }
        pending += 1
        if pending == 16 || n == images - 1 {
            reader.release(max(0, n + 1 - pending)..<(n + 1))
            progress.add(pending)
            pending = 0
        }
    }
    try finish(job, writer: writer, images: images, checksum: sum.hex)
}

/// Rescales `job` with batches of images spread over `rescalers.count` threads.
func rescaleStackInBatches(_ job: StackJob, images: Int, rescalers: [ImageRescaler], progress: ProgressCounter,
                           policy: OutputPolicy) throws {
    removeStaleTemporaries(of: job.output)
    for r in rescalers { try r.prepare(for: job.rescale) }
    let reader = try MRCStackReader(path: job.source)
    let oldSize = job.rescale.oldBox * job.rescale.oldBox
    let box = job.rescale.finalBox
    let newSize = box * box
    let writer = try MRCStackWriter(path: job.output, nx: box, ny: box, pixelSize: job.rescale.newPixelSize, policy: policy)
    let batch = 16 * rescalers.count
    let input = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * oldSize)
    let output = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * newSize)
    defer { input.deallocate(); output.deallocate() }
    nonisolated(unsafe) let inputs = input, outputs = output
    var sum = ImageDataChecksum()
    var start = 0
    while start < images {
        let count = min(batch, images - start)
        try reader.readImages(start..<(start + count), into: UnsafeMutableBufferPointer(rebasing: input[0..<(count * oldSize)]))
        let parts = splitRange(count, into: rescalers.count)
        parallelForEach(parts.count) { p in
            for n in parts[p] {
                let i = UnsafeBufferPointer(rebasing: inputs[(n * oldSize)..<((n + 1) * oldSize)])
                let o = UnsafeMutableBufferPointer(rebasing: outputs[(n * newSize)..<((n + 1) * newSize)])
                rescalers[p].rescale(i, into: o, job.rescale)
            }
        }
        // Image by image, as the serial path does, so that the header statistics (accumulated per
        // append) and hence the bytes of the stack do not depend on how the work was split.
        for n in 0..<count {
            let o = UnsafeBufferPointer(rebasing: output[(n * newSize)..<((n + 1) * newSize)])
            sum.add(UnsafeRawBufferPointer(o))
            try writer.append(o)
        }
        reader.release(start..<(start + count))
        progress.add(count)
        start += count
    }
    try finish(job, writer: writer, images: images, checksum: sum.hex)
}

/// Commits the stack, then writes its record.
private func finish(_ job: StackJob, writer: MRCStackWriter, images: Int, checksum: String) throws {
    try writer.commit()
    guard var record = expectedRecord(job, images: images), let identity = fileIdentity(job.output) else {
        throw CoreError.cannotWrite(path: job.output, reason: "the stack vanished after it was written")
    }
    record.bytes = identity.bytes
    record.checksum = checksum
    try record.write(stackPath: job.output)
}

/// Produces every stack of `jobs` (skipping the complete ones unless `force`), on `Parallelism.jobs`
/// threads. Output folders are created as needed.
func rescaleStacks(_ jobs: [StackJob], counts: [Int], force: Bool, inputs: [String],
                   progress handler: ProgressHandler?) throws -> StackTotals {
    var totals = StackTotals()
    var todo: [Int] = []
    for (k, job) in jobs.enumerated() {
        if !force && isComplete(job, images: counts[k]) {
            totals.skippedStacks += 1
            totals.skippedImages += counts[k]
        } else {
            todo.append(k)
        }
    }
    for k in todo {
        let folder = (jobs[k].output as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CoreError.cannotWrite(path: folder, reason: error.localizedDescription)
        }
        // A stale record must not vouch for a stack that is about to be replaced.
        unlink(StackRecord.path(for: jobs[k].output))
    }
    let total = todo.reduce(0) { $0 + counts[$1] }
    let progress = ProgressCounter(total: total, handler: handler)
    let threads = max(1, Parallelism.jobs)
    let policy = OutputPolicy(overwrite: true, inputs: inputs + jobs.map(\.source))
    if todo.count >= 2 * threads {
        // One stack per worker at a time, the next stack taken from a shared queue.
        let lock = NSLock()
        nonisolated(unsafe) var cursor = 0
        let failure = FirstError()
        parallelForEach(threads) { _ in
            let rescaler = ImageRescaler()
            while failure.error == nil {
                lock.lock(); let t = cursor; cursor += 1; lock.unlock()
                if t >= todo.count { break }
                let k = todo[t]
                do {
                    try rescaleStackSerially(jobs[k], images: counts[k], rescaler: rescaler, progress: progress,
                                             policy: policy, cancelled: { failure.error != nil })
                } catch {
                    failure.record(error)
                }
            }
        }
        if let error = failure.error { throw error }
    } else {
        let rescalers = (0..<threads).map { _ in ImageRescaler() }
        for k in todo {
            try rescaleStackInBatches(jobs[k], images: counts[k], rescalers: rescalers, progress: progress, policy: policy)
        }
    }
    totals.rescaledStacks = todo.count
    totals.rescaledImages = total
    return totals
}
