// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Hints to the Linux kernel about large buffers (madvise(2)). Both are optional: on a kernel that
// ignores them the program is just as correct, only slower or bigger.
// - Huge pages: a 400 MB STAR file's cell offsets and typed columns are hundreds of MB of fresh
//   memory; with 4 KB pages every first touch is a page fault (about a third of the parse time
//   measured here). Transparent huge pages (2 MB) make those faults 512 times fewer.
// - Releasing mapped pages: pages of a read-only file mapping that have been parsed can be dropped
//   from the process (MADV_DONTNEED); a later read faults them back in from the page cache.

#if canImport(Glibc)
import Glibc
#endif

private let hugePageSize = 2 << 20

/// Memory hints for big buffers (no effect on correctness).
public enum MemoryAdvice {
    /// Asks for transparent huge pages on the 2 MB-aligned interior of `count` bytes at `start`.
    /// Call it before the memory is first written. Buffers under 4 MB are left alone.
    public static func preferHugePages(_ start: UnsafeMutableRawPointer, byteCount count: Int) {
        #if os(Linux)
        guard count >= 2 * hugePageSize else { return }
        let a = (Int(bitPattern: start) + hugePageSize - 1) & ~(hugePageSize - 1)
        let e = (Int(bitPattern: start) + count) & ~(hugePageSize - 1)
        guard e > a, let p = UnsafeMutableRawPointer(bitPattern: a) else { return }
        _ = madvise(p, e - a, 14 /* MADV_HUGEPAGE */)
        #endif
    }

    /// Drops the whole pages inside `range` of a read-only, privately mapped file from this process
    /// (they are read back from the page cache if touched again). Must not be used on ordinary
    /// (anonymous) memory, whose contents it would discard.
    public static func releaseMappedPages(_ base: UnsafeRawPointer, _ range: Range<Int>) {
        #if os(Linux)
        let page = 4096
        let a = (Int(bitPattern: base) + range.lowerBound + page - 1) & ~(page - 1)
        let e = (Int(bitPattern: base) + range.upperBound) & ~(page - 1)
        guard e > a, let p = UnsafeMutableRawPointer(bitPattern: a) else { return }
        _ = madvise(p, e - a, MADV_DONTNEED)
        #endif
    }
}
