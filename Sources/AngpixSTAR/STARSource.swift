// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The bytes a STAR document was read from (a memory-mapped file or a copy of a string), and the
// lexical rules of STAR/CIF tokens used to find a value's extent again on demand:
// - whitespace is space, tab, CR and LF; `#` at the start of a token starts a comment to the line end;
// - a value quoted with ' or " ends at the same quote followed by whitespace or the end of the
//   text (CIF 1.1 rule, so `'O5''` style primes and `""` as the empty string both work);
// - a line starting with `;` opens a CIF text field that ends at the next line starting with `;`;
// - any other value runs to the next whitespace.
// The definitions are those of the STAR (Hall 1991) and CIF 1.1 syntax papers, as used by RELION and the PDB.

import Foundation
import AngpixCore

/// Read-only bytes of a STAR text, kept alive as long as any block refers to them.
final class STARSource: @unchecked Sendable {
    let name: String
    let base: UnsafePointer<UInt8>
    let count: Int
    private let mapped: MappedFile?
    private let owned: UnsafeMutableRawPointer?

    init(mapped: MappedFile, name: String) {
        self.name = name
        self.mapped = mapped
        owned = nil
        count = mapped.count
        if let b = mapped.bytes.baseAddress {
            base = b.assumingMemoryBound(to: UInt8.self)
        } else {
            base = UnsafePointer(STARSource.emptyByte)
        }
    }

    init(text: String, name: String) {
        self.name = name
        mapped = nil
        var t = text
        let n = t.utf8.count
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 16)
        t.withUTF8 { u in
            if let b = u.baseAddress { buffer.copyMemory(from: b, byteCount: n) }
        }
        owned = buffer
        count = n
        base = UnsafePointer(buffer.assumingMemoryBound(to: UInt8.self))
    }

    deinit { owned?.deallocate() }

    nonisolated(unsafe) private static let emptyByte: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.pointee = 0
        return p
    }()

    /// The 1-based line number of byte `offset`.
    func line(of offset: Int) -> Int {
        var line = 1
        var p = UnsafeRawPointer(base)
        var left = min(offset, count)
        while left > 0, let hit = memchr(p, 0x0A, left) {
            line += 1
            let step = UnsafeRawPointer(hit) - p + 1
            p += step
            left -= step
        }
        return line
    }

    /// Lets the kernel drop the parsed pages in `range` from this process (memory-mapped sources
    /// only; they are read back from the page cache when touched again).
    func releasePages(_ range: Range<Int>) {
        guard mapped != nil, !range.isEmpty else { return }
        MemoryAdvice.releaseMappedPages(UnsafeRawPointer(base), range.clamped(to: 0 ..< count))
    }

    /// The bytes in `range` as a String.
    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self)
    }

    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// The extent of the value token starting at `start`: its content (without quotes) and its end.
    @inline(__always)
    func token(at start: Int) -> (content: Range<Int>, end: Int) {
        let p = base
        let n = count
        let c = p[start]
        if c == 0x27 || c == 0x22 {
            var i = start + 1
            while i < n {
                let b = p[i]
                if b == c && (i + 1 == n || isSTARSpace(p[i + 1])) { return (start + 1 ..< i, i + 1) }
                if b == 0x0A { break }
                i += 1
            }
            // Unterminated (the tokenizer rejects these); treat as running to the line end.
            return (start + 1 ..< i, i)
        }
        if c == 0x3B && (start == 0 || p[start - 1] == 0x0A) {
            if let close = textFieldEnd(start) { return close }
        }
        let i = unquotedTokenEnd(p, start + 1, n)
        return (start ..< i, i)
    }

    /// The end of a `;` text field opened at `start`, or nil if it is never closed.
    func textFieldEnd(_ start: Int) -> (content: Range<Int>, end: Int)? {
        var i = start + 1
        while i < count {
            guard let hit = memchr(base + i, 0x0A, count - i) else { return nil }
            let nl = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
            if nl + 1 < count && base[nl + 1] == 0x3B {
                var contentEnd = nl
                if contentEnd > start + 1 && base[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                return (start + 1 ..< max(start + 1, contentEnd), nl + 2)
            }
            i = nl + 1
        }
        return nil
    }
}

/// Whitespace: space, tab, CR, LF (and, for robustness, any other control byte).
@inline(__always)
func isSTARSpace(_ b: UInt8) -> Bool {
    b <= 0x20
}

/// The end of the unquoted token whose first byte is at `i - 1`: the first byte <= 0x20 at or
/// after `i`, found 8 bytes at a time (a SWAR "byte less than" test; the lowest flagged byte of
/// the word is exact because borrows only move towards higher bytes).
@inline(__always)
func unquotedTokenEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
    var i = start
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        let t = (x &- 0x2121_2121_2121_2121) & ~x & 0x8080_8080_8080_8080
        if t != 0 { return i + (t.trailingZeroBitCount >> 3) }
        i += 8
    }
    while i < n && p[i] > 0x20 { i += 1 }
    return i
}

/// The first position at or after `i` that is not a blank (space, tab, CR, other control bytes
/// except LF); runs of spaces are skipped 8 bytes at a time.
@inline(__always)
func skipLineBlanks(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
    var i = start
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        let y = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x2020_2020_2020_2020
        let m = (((y & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | y) & 0x8080_8080_8080_8080
        if m != 0 { i += m.trailingZeroBitCount >> 3; break }
        i += 8
    }
    while i < n && p[i] <= 0x20 && p[i] != 0x0A { i += 1 }
    return i
}
