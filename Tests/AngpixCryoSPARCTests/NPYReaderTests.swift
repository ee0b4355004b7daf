// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the .npy/.cs reader (NPYFile, PythonLiteral): header versions, field offsets and
// itemsize as numpy computes them (padding, sub-array shapes), |S and <U strings, big-endian
// fields, and every kind of bad input with a one-line error naming the file.

import Foundation
import Testing
import AngpixCore
import AngpixTestSupport
@testable import AngpixCryoSPARC

@Suite struct CryoSPARCReaderTests {
    @Test func pythonLiteralParsesNumpyHeaders() throws {
        let h = try PythonLiteral.parse("{'descr': [('uid', '<u8'), ('blob/shape', '<u4', (2,)), (('t', 'x'), \"<f4\", 3)], 'fortran_order': False, 'shape': (10,), }  \n")
        #expect(h["fortran_order"] == .bool(false))
        #expect(h["shape"] == .tuple([.int(10)]))
        guard case .list(let items)? = h["descr"] else { Issue.record("no descr"); return }
        #expect(items.count == 3)
        #expect(items[1] == .tuple([.string("blob/shape"), .string("<u4"), .tuple([.int(2)])]))
        #expect(try PythonLiteral.parse("(3)") == .int(3))
        #expect(try PythonLiteral.parse("()") == .tuple([]))
        #expect(try PythonLiteral.parse("'a\\'b'") == .string("a'b"))
        for bad in ["{'a': 1", "{'a' 1}", "[1, 2", "{'a': foo}", "{'a': 1} x", "{'a': 1, 'a': 2}", "'abc"] {
            #expect(throws: PythonLiteralError.self) { try PythonLiteral.parse(bad) }
        }
    }

    @Test func offsetsItemsizeAndValuesAsNumpy() throws {
        let dir = TemporaryDirectory("cs-reader")
        var a = NPYTestArray([("uid", "<u8", []), ("", "|V3", []), ("blob/path", "|S20", []), ("m", "<f4", [2, 3]),
                              ("big", ">f8", []), ("bigu", ">u4", []), ("name", "<U5", []), ("d", "<f8", []), ("b", "|u1", [])])
        a.rows = [["uid": .integers([UInt64.max - 1]), "blob/path": .text("J1/a.mrcs"), "m": .numbers([1, 2, 3, 4, 5, 6]),
                   "big": .numbers([-2.5]), "bigu": .integers([70000]), "name": .text("αβc"), "d": .numbers([0.1]), "b": .integers([255])],
                  ["uid": .integers([3]), "blob/path": .text("12345678901234567890"), "m": .numbers([0, 0, 0, 0, 0, -1]),
                   "big": .numbers([1e300]), "bigu": .integers([1]), "name": .text("abcde"), "d": .numbers([-0.0]), "b": .integers([0])]]
        for version: UInt8 in [1, 2, 3] {
            a.version = version
            let path = a.write(to: dir.file("v\(version).npy"))
            let f = try NPYFile(path: path)
            #expect(f.version.major == Int(version))
            #expect(f.count == 2)
            // numpy: 8 + 3 (padding) + 20 + 24 + 8 + 4 + 20 + 8 + 1 = 96
            #expect(f.itemSize == 96)
            #expect(f.fields.map(\.name) == ["uid", "blob/path", "m", "big", "bigu", "name", "d", "b"])
            #expect(f.fields.map(\.offset) == [0, 11, 31, 55, 63, 67, 87, 95])
            #expect(f.dataOffset % 64 == 0)
            let uid = f.field("uid")!, path_ = f.field("blob/path")!, m = f.field("m")!, big = f.field("big")!
            #expect(f.uint64(uid, row: 0) == UInt64.max - 1)
            #expect(f.string(path_, row: 0) == "J1/a.mrcs")
            #expect(f.string(path_, row: 1) == "12345678901234567890")
            #expect(m.shape == [2, 3] && m.count == 6)
            #expect((0..<6).map { f.double(m, row: 0, element: $0) } == [1, 2, 3, 4, 5, 6])
            #expect(f.double(big, row: 0) == -2.5 && f.double(big, row: 1) == 1e300)
            #expect(f.uint64(f.field("bigu")!, row: 0) == 70000)
            #expect(f.string(f.field("name")!, row: 0) == "αβc")
            #expect(f.string(f.field("name")!, row: 1) == "abcde")
            #expect(f.double(f.field("b")!, row: 0) == 255)
        }
    }

    @Test func emptyArrayAndPlainArray() throws {
        let dir = TemporaryDirectory("cs-reader")
        let a = NPYTestArray([("uid", "<u8", [])])
        let f = try NPYFile(path: a.write(to: dir.file("empty.cs")))
        #expect(f.count == 0 && f.itemSize == 8)
        let plain = dir.file("plain.npy")
        try a.data(headerText: "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }").write(to: URL(fileURLWithPath: plain))
        let p = try NPYFile(path: plain)
        #expect(!p.isStructured && p.fields.count == 1)
        #expect(throws: CryoSPARCError.self) { _ = try CryoSPARCParticles(path: plain) }
    }

    /// Every bad input gives one line naming the file and what is wrong.
    @Test func badInputsAreRefusedClearly() throws {
        let dir = TemporaryDirectory("cs-reader")
        var a = NPYTestArray([("uid", "<u8", []), ("ctf/df1_A", "<f4", [])])
        a.rows = (0..<4).map { ["uid": .integers([UInt64($0)]), "ctf/df1_A": .numbers([1])] }
        let good = a.data()
        func check(_ name: String, _ data: Data, _ expected: String) {
            let path = dir.file(name)
            try! data.write(to: URL(fileURLWithPath: path))
            do {
                _ = try NPYFile(path: path)
                Issue.record("\(name): no error")
            } catch let e as CryoSPARCError {
                let text = e.description
                #expect(text.hasPrefix(path + ":"), "\(text)")
                #expect(text.contains(expected), "\(name): \(text)")
                #expect(!text.contains("\n"))
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
        check("truncated.cs", good.prefix(good.count - 5), "truncated: 4 records of 12 bytes need 48 bytes")
        check("truncated-header.cs", good.prefix(40), "truncated: the header is")
        check("tiny.cs", good.prefix(7), "truncated in the preamble")
        check("short.cs", Data([1, 2, 3]), "too short")
        check("extra.cs", good + Data([1, 2, 3]), "3 bytes after the 4 records")
        check("magic.cs", Data("NUMPY not really".utf8), "magic")
        check("version.cs", Data([0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0]), "version 9.0")
        check("syntax.cs", a.data(headerText: "{'descr': [('uid', '<u8'), 'fortran_order': False, 'shape': (4,), }"), "does not parse")
        check("keys.cs", a.data(headerText: "{'descr': [('uid', '<u8')], 'shape': (4,), }"), "exactly the keys")
        check("shape2d.cs", a.data(headerText: "{'descr': [('uid', '<u8')], 'fortran_order': False, 'shape': (2, 2), }"), "not one-dimensional")
        check("unknown.cs", a.data(headerText: "{'descr': [('uid', '<u8'), ('x', '<q4')], 'fortran_order': False, 'shape': (4,), }"), "field 'x': unknown or unsupported numpy type '<q4'")
        check("half.cs", a.data(headerText: "{'descr': [('uid', '<u8'), ('x', '<f2')], 'fortran_order': False, 'shape': (4,), }"), "half-precision")
        check("object.cs", a.data(headerText: "{'descr': [('uid', '<u8'), ('blob/path', '|O')], 'fortran_order': False, 'shape': (4,), }"), "field 'blob/path': Python object field")
        check("objectarray.npy", a.data(headerText: "{'descr': '|O', 'fortran_order': False, 'shape': (4,), }"), "Python object field")
        check("notdict.cs", a.data(headerText: "[1, 2]"), "expected a dict")
    }

    @Test func passthroughWithOtherUidsIsRefused() throws {
        let dir = TemporaryDirectory("cs-reader")
        let ps = Synthetic.particles(20)
        let (main, pass) = Synthetic.split(ps)
        let mainPath = main.write(to: dir.file("main.cs"))
        var other = pass
        other.rows = Array(other.rows.dropLast(3))   // drops the first three particles (rows are reversed)
        let otherPath = other.write(to: dir.file("other.cs"))
        #expect {
            _ = try CryoSPARCParticles(path: mainPath, passthroughs: [otherPath])
        } throws: { e in
            let t = "\(e)"
            return t.hasPrefix(otherPath + ": passthrough file: 3 of the 20 particles of \(mainPath) are not in it (first: record 0, uid \(ps[0].uid))")
        }
        var dup = pass
        dup.rows[1] = dup.rows[0]
        let dupPath = dup.write(to: dir.file("dup.cs"))
        #expect(throws: CryoSPARCError.self) { _ = try CryoSPARCParticles(path: mainPath, passthroughs: [dupPath]) }
        // The right passthrough joins (rows in another order).
        let passPath = pass.write(to: dir.file("pass.cs"))
        let set = try CryoSPARCParticles(path: mainPath, passthroughs: [passPath])
        let path = try #require(try set.text("blob/path"))
        for i in 0..<ps.count { #expect(path.string(i) == ps[i].stack) }
    }
}
