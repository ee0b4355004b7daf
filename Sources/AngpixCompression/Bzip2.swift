// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A bzip2 decompressor written in Swift (no library: the static angpix binary cannot load libbz2).
// The format is the one of Julian Seward's bzip2 1.0 (the `bzip2` command, Python's bz2 module,
// which mrcfile uses for .mrc.bz2): a stream "BZh1".."BZh9" of blocks, each the Burrows–Wheeler
// transform of up to 100k·level bytes that were first run-length coded (4 equal bytes + a count),
// then move-to-front coded, zero runs coded as RUNA/RUNB, and Huffman coded with 2–6 tables
// switched every 50 symbols. Every block carries a CRC-32 (MSB-first, polynomial 04C11DB7) of its
// output and the stream a combined CRC; both are checked. Concatenated streams (pbzip2) are read.
// Randomised blocks (written only by bzip2 0.9.0 and older) are refused.

/// Decompresses bzip2 data.
public enum Bzip2 {
    /// The decompressed bytes of `input` (one or more concatenated bzip2 streams).
    /// `name` names the data in errors.
    public static func decompress(_ input: UnsafeRawBufferPointer, name: String) throws -> [UInt8] {
        var reader = BitReader(input)
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        var streams = 0
        func fail(_ reason: String) -> CompressionError { .corrupt(path: name, format: "bzip2", reason: reason) }
        while true {
            // Stream header "BZh" + block size digit.
            guard reader.bytesLeft >= 4 else {
                if streams > 0 && reader.bytesLeft == 0 { break }
                throw fail(streams == 0 ? "too short for a bzip2 header" : "trailing bytes after the bzip2 stream")
            }
            let b = reader.readBits(8), z = reader.readBits(8), h = reader.readBits(8), level = reader.readBits(8)
            guard b == 0x42, z == 0x5A, h == 0x68, (0x31...0x39).contains(level) else {
                if streams > 0 { throw fail("trailing bytes after the bzip2 stream") }
                throw fail("no bzip2 header (BZh1-9)")
            }
            let maxBlock = Int(level - 0x30) * 100_000
            var combined: UInt32 = 0
            var block = Block(maxSize: maxBlock)
            while true {
                guard reader.bitsLeft >= 48 + 32 else { throw fail("unexpected end of data (truncated file)") }
                let magic = reader.readBits(48)
                let crc = UInt32(reader.readBits(32))
                if magic == 0x1772_4538_5090 {
                    guard crc == combined else {
                        throw fail("stream CRC \(hex(crc)) does not match the data's \(hex(combined))")
                    }
                    break
                }
                guard magic == 0x3141_5926_5359 else { throw fail("bad block signature") }
                let start = output.count
                try block.decode(&reader, into: &output, fail: fail)
                let actual = crc32(output, from: start)
                guard actual == crc else {
                    throw fail("block CRC \(hex(crc)) does not match the data's \(hex(actual))")
                }
                combined = ((combined << 1) | (combined >> 31)) ^ crc
            }
            streams += 1
            reader.alignToByte()
            if reader.bytesLeft == 0 { break }
        }
        return output
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// CRC-32 as bzip2 computes it (MSB first, polynomial 0x04C11DB7, initial and final xor ~0).
    static func crc32(_ bytes: [UInt8], from start: Int) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for i in start..<bytes.count {
            c = (c << 8) ^ crcTable[Int((c >> 24) ^ UInt32(bytes[i]))]
        }
        return ~c
    }

    static let crcTable: [UInt32] = (0..<256).map { (i: Int) -> UInt32 in
        var c = UInt32(i) << 24
        for _ in 0..<8 { c = (c & 0x8000_0000) != 0 ? (c << 1) ^ 0x04C1_1DB7 : c << 1 }
        return c
    }
}

/// Reads bits most significant first.
struct BitReader {
    let data: UnsafeRawBufferPointer
    var position = 0          // next byte to load
    var buffer: UInt64 = 0    // bits not yet consumed, in the low `count` bits
    var count = 0

    init(_ data: UnsafeRawBufferPointer) { self.data = data }

    var bitsLeft: Int { (data.count - position) * 8 + count }
    var bytesLeft: Int { bitsLeft / 8 }

    /// Reads `n` ≤ 56 bits; past the end, zeros are returned (callers check `bitsLeft` first
    /// where it matters; a truncated block then fails its CRC or a structural check).
    @inline(__always)
    mutating func readBits(_ n: Int) -> UInt64 {
        while count < n {
            let byte: UInt64 = position < data.count ? UInt64(data[position]) : 0
            position += 1
            buffer = (buffer << 8) | byte
            count += 8
        }
        count -= n
        return (buffer >> UInt64(count)) & ((1 << UInt64(n)) - 1)
    }

    @inline(__always)
    mutating func readBit() -> Int { Int(readBits(1)) }

    /// Skips to the next byte boundary.
    mutating func alignToByte() { count -= count % 8 }

    var pastEnd: Bool { position > data.count }
}

/// One block's decoder, its tables reused from block to block.
struct Block {
    let maxSize: Int
    var symbols = [UInt8](repeating: 0, count: 0)   // the BWT output (last column)
    var next = [UInt32]()

    init(maxSize: Int) {
        self.maxSize = maxSize
        symbols.reserveCapacity(maxSize)
        next = [UInt32](repeating: 0, count: maxSize)
    }

    mutating func decode(_ r: inout BitReader, into output: inout [UInt8],
                         fail: (String) -> CompressionError) throws {
        if r.readBit() == 1 { throw fail("randomised block (bzip2 0.9.0 or older): not supported") }
        let origPtr = Int(r.readBits(24))
        // The bytes in use: a 16-bit map of 16-byte ranges, then 16 bits per range present.
        let ranges = r.readBits(16)
        var seqToByte = [UInt8]()
        for i in 0..<16 where ranges & (1 << UInt64(15 - i)) != 0 {
            let bits = r.readBits(16)
            for j in 0..<16 where bits & (1 << UInt64(15 - j)) != 0 { seqToByte.append(UInt8(i * 16 + j)) }
        }
        guard !seqToByte.isEmpty else { throw fail("block uses no byte values") }
        let alphaSize = seqToByte.count + 2
        let groups = Int(r.readBits(3))
        guard (2...6).contains(groups) else { throw fail("\(groups) Huffman tables (2 to 6 allowed)") }
        let selectorCount = Int(r.readBits(15))
        guard selectorCount >= 1 else { throw fail("no Huffman table selectors") }
        // Selectors, move-to-front coded in unary.
        var mtfGroups = Array(0..<UInt8(groups))
        var selectors = [UInt8](repeating: 0, count: selectorCount)
        for i in 0..<selectorCount {
            var j = 0
            while r.readBit() == 1 {
                j += 1
                if j >= groups { throw fail("bad Huffman table selector") }
            }
            let v = mtfGroups[j]
            mtfGroups.remove(at: j); mtfGroups.insert(v, at: 0)
            selectors[i] = v
        }
        if r.pastEnd { throw fail("unexpected end of data (truncated file)") }
        // Code lengths, delta coded, and the canonical Huffman tables built from them.
        var tables = [Huffman]()
        for _ in 0..<groups {
            var length = Int(r.readBits(5))
            var lengths = [Int](repeating: 0, count: alphaSize)
            for s in 0..<alphaSize {
                while true {
                    guard (1...20).contains(length) else { throw fail("bad Huffman code length") }
                    if r.readBit() == 0 { break }
                    length += r.readBit() == 0 ? 1 : -1
                }
                lengths[s] = length
            }
            tables.append(Huffman(lengths: lengths))
        }
        if r.pastEnd { throw fail("unexpected end of data (truncated file)") }

        // Huffman symbols → RUNA/RUNB zero runs and move-to-front indices → the block's bytes.
        var mtf = (0..<seqToByte.count).map { UInt8($0) }
        var counts = [Int](repeating: 0, count: 256)
        symbols.removeAll(keepingCapacity: true)
        let endOfBlock = alphaSize - 1
        var groupIndex = 0, groupLeft = 0
        var table = tables[0]
        var run = 0, runWeight = 1
        func flushRun() throws {
            guard run > 0 else { return }
            guard symbols.count + run <= maxSize else { throw fail("block longer than its declared size") }
            let byte = seqToByte[Int(mtf[0])]
            counts[Int(byte)] += run
            symbols.append(contentsOf: repeatElement(byte, count: run))
            run = 0; runWeight = 1
        }
        while true {
            if groupLeft == 0 {
                guard groupIndex < selectorCount else { throw fail("more symbols than selectors") }
                table = tables[Int(selectors[groupIndex])]
                groupIndex += 1
                groupLeft = 50
            }
            groupLeft -= 1
            guard let sym = table.decode(&r) else { throw fail("bad Huffman code") }
            if r.pastEnd { throw fail("unexpected end of data (truncated file)") }
            if sym <= 1 {
                // RUNA adds 1·w, RUNB 2·w, w doubling: bijective base 2.
                guard runWeight <= maxSize else { throw fail("zero run too long") }
                run += (sym + 1) * runWeight
                runWeight <<= 1
                guard run <= maxSize else { throw fail("zero run too long") }
                continue
            }
            try flushRun()
            if sym == endOfBlock { break }
            let index = sym - 1
            guard index < mtf.count else { throw fail("bad move-to-front index") }
            let v = mtf[index]
            mtf.remove(at: index); mtf.insert(v, at: 0)
            guard symbols.count < maxSize else { throw fail("block longer than its declared size") }
            let byte = seqToByte[Int(v)]
            counts[Int(byte)] += 1
            symbols.append(byte)
        }
        let n = symbols.count
        guard origPtr < n else { throw fail("BWT origin \(origPtr) outside the block of \(n) bytes") }

        // Inverse Burrows–Wheeler: next[k] is where, in the last column, the k-th byte of the
        // sorted first column sits; following it from row origPtr spells the block.
        var start = [Int](repeating: 0, count: 256)
        var total = 0
        for b in 0..<256 { start[b] = total; total += counts[b] }
        symbols.withUnsafeBufferPointer { sym in
            next.withUnsafeMutableBufferPointer { nx in
                for i in 0..<n {
                    let b = Int(sym[i])
                    nx[start[b]] = UInt32(i)
                    start[b] += 1
                }
            }
        }
        // Undo the initial run-length coding while walking: after 4 equal bytes comes a count.
        var p = Int(next[origPtr])
        var last = -1, same = 0
        var k = 0
        while k < n {
            let byte = symbols[p]
            p = Int(next[p])
            k += 1
            if same == 4 {
                output.append(contentsOf: repeatElement(UInt8(last), count: Int(byte)))
                same = 0
                last = -1
                continue
            }
            if Int(byte) == last { same += 1 } else { last = Int(byte); same = 1 }
            output.append(byte)
        }
    }
}

/// A canonical Huffman code (bzip2 assigns codes in order of length, then symbol).
struct Huffman {
    var limit = [Int](repeating: -1, count: 22)   // largest code of each length
    var base = [Int](repeating: 0, count: 22)     // code − base = index in `perm`
    var perm = [Int]()
    var minLength = 20, maxLength = 0

    init(lengths: [Int]) {
        minLength = lengths.min() ?? 1
        maxLength = lengths.max() ?? 1
        var code = 0
        for length in minLength...maxLength {
            base[length] = code - perm.count
            for (s, l) in lengths.enumerated() where l == length {
                perm.append(s)
                code += 1
            }
            limit[length] = code - 1
            code <<= 1
        }
    }

    @inline(__always)
    func decode(_ r: inout BitReader) -> Int? {
        var code = Int(r.readBits(minLength))
        var length = minLength
        while true {
            if code <= limit[length] {
                let i = code - base[length]
                return i >= 0 && i < perm.count ? perm[i] : nil
            }
            length += 1
            if length > maxLength { return nil }
            code = (code << 1) | r.readBit()
        }
    }
}
