// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Work split over the machine's cores. angpix runs on small workstations (2 cores) as well as
// large nodes; every parallel loop goes through here so that `--jobs` limits all of them.

import Foundation

/// How many threads parallel loops use (defaults to the number of active cores).
public enum Parallelism {
    nonisolated(unsafe) private static var configured: Int = 0

    /// The number of worker threads; `setJobs` changes it for the whole process.
    public static var jobs: Int {
        configured > 0 ? configured : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Sets the number of worker threads (call once, at start-up, from the command line).
    public static func setJobs(_ n: Int) { configured = max(1, n) }
}

/// Runs `body(chunk)` for `chunks` chunks on up to `Parallelism.jobs` threads and waits for all.
public func parallelForEach(_ chunks: Int, _ body: (Int) -> Void) {
    if chunks <= 0 { return }
    if chunks == 1 || Parallelism.jobs == 1 {
        for i in 0..<chunks { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let b = body
        DispatchQueue.concurrentPerform(iterations: chunks) { b($0) }
    }
}

/// Splits `0..<count` into `parts` contiguous ranges of nearly equal size.
public func splitRange(_ count: Int, into parts: Int) -> [Range<Int>] {
    let p = max(1, min(parts, count))
    var ranges: [Range<Int>] = []
    var start = 0
    for i in 0..<p {
        let end = (count * (i + 1)) / p
        ranges.append(start..<end)
        start = end
    }
    return ranges
}

/// A reported fraction of long work, for progress lines (the library never prints).
public typealias ProgressHandler = @Sendable (_ done: Int, _ total: Int) -> Void
