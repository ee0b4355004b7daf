// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix map …` on the files of issue 15 ("real files from the field"), one test per class:
// compressed maps (the EMDB's .map.gz, mrcfile's .mrc.bz2), files that are not MRC at all, a
// zero cell, "valid" with warnings only, .mrcs stacks with ISPG 0 and MZ = NZ (cryoDRGN,
// tomoDRGN), set-pixel-size on crystallographic maps, and the z voxel size of rescaled stacks.

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixTestSupport

private func map(_ n: Int, pixelSize: Double, seed: UInt64, offset: Float = 0) -> MRCMap {
    var rng = SplitMix64(seed: seed)
    var m = MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize)
    for i in m.data.indices { m.data[i] = offset + Float(Double(rng.next() >> 11) / Double(1 << 53)) }
    return m
}

private func json(_ r: ProcessResult) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], Comment(rawValue: r.stderr))
}

private func sh(_ command: String) throws {
    let r = try runProcess("/bin/sh", ["-c", command])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
}

@Suite("map commands on files from the field")
struct MapFieldFilesTests {
    @Test("gzip and bzip2 maps (EMDB .map.gz, mrcfile .mrc.bz2, a misnamed .mrc) read as the plain file; damaged ones fail")
    func compressed() throws {
        let dir = TemporaryDirectory()
        let plain = dir.file("emd_1234.map")
        try MRCFile.write(map(24, pixelSize: 1.06, seed: 1), to: plain, policy: OutputPolicy())
        try sh("gzip -n -c '\(plain)' > '\(plain).gz'; bzip2 -c '\(plain)' > '\(dir.file("map.mrc.bz2"))'; gzip -c '\(plain)' > '\(dir.file("misnamed.mrc"))'")
        let reference = try json(try runAngpix(["map", "info", plain, "--json"]))
        for (name, format) in [("emd_1234.map.gz", "gzip"), ("map.mrc.bz2", "bzip2"), ("misnamed.mrc", "gzip")] {
            let r = try runAngpix(["map", "info", dir.file(name), "--json"])
            #expect(r.status == 0, Comment(rawValue: r.stderr))
            let info = try json(r)
            #expect(info["compression"] as? String == format)
            #expect((info["statistics"] as? [String: Double])?["rms"] == (reference["statistics"] as? [String: Double])?["rms"])
            #expect(info["mapSize"] as? [Int] == [24, 24, 24])
            #expect(info["valid"] as? Bool == true)
            let text = try runAngpix(["map", "info", dir.file(name)])
            #expect(text.stdout.contains("\(format)-compressed; \(24 * 24 * 24 * 4 + 1024) bytes decompressed"))
        }
        // The other commands read them too (output uncompressed).
        let out = dir.file("rescaled.mrc")
        let r = try runAngpix(["map", "rescale", dir.file("emd_1234.map.gz"), "--angpix", "2.12", "-o", out])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        #expect(try MRCFile.readHeader(path: out).nx == 12)
        // Damaged: truncated gzip, a flipped byte in bzip2.
        let gz = [UInt8](FileManager.default.contents(atPath: plain + ".gz")!)
        _ = FileManager.default.createFile(atPath: dir.file("cut.map.gz"), contents: Data(gz.prefix(gz.count / 2)))
        var bz = [UInt8](FileManager.default.contents(atPath: dir.file("map.mrc.bz2"))!)
        bz[bz.count / 2] ^= 0x21
        _ = FileManager.default.createFile(atPath: dir.file("bad.mrc.bz2"), contents: Data(bz))
        for (name, expected) in [("cut.map.gz", "cannot decompress (gzip)"), ("bad.mrc.bz2", "cannot decompress (bzip2)")] {
            let bad = try runAngpix(["map", "info", dir.file(name)])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("\(dir.file(name)): \(expected)"), Comment(rawValue: bad.stderr))
            #expect(bad.stdout.isEmpty)
        }
    }

    @Test("Files that are not MRC are named as what they are, not listed field by field")
    func notMRC() throws {
        let dir = TemporaryDirectory()
        func tiff(compression: UInt16) -> [UInt8] {
            // Little-endian TIFF: header, one IFD at 8 with one entry (259 Compression, SHORT).
            var b: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0, 1, 0, 0x03, 0x01, 3, 0, 1, 0, 0, 0]
            b += [UInt8(compression & 0xFF), UInt8(compression >> 8), 0, 0, 0, 0, 0, 0]
            return b + [UInt8](repeating: 0, count: 2000)
        }
        func em() -> [UInt8] {
            // EM format (TOM toolbox): PC byte order, float data, 8 × 8 × 8.
            var b = [UInt8](repeating: 0, count: 512)
            b[0] = 6; b[3] = 5; b[4] = 8; b[8] = 8; b[12] = 8
            return b + [UInt8](repeating: 0, count: 8 * 8 * 8 * 4)
        }
        let cases: [(String, [UInt8], String)] = [
            ("movie.tiff", tiff(compression: 1), "not an MRC file: a TIFF image"),
            ("movie.eer", tiff(compression: 65001), "not an MRC file: an EER movie"),
            ("particles.star", Array("# RELION\ndata_optics\nloop_\n_rlnOpticsGroup #1\n1\n".utf8), "not an MRC file: a STAR file"),
            ("model.pdb", Array("HEADER    PROTEIN\nATOM      1  N   ALA A   1      11.104   6.134  -6.504  1.00  0.00           N\n".utf8), "not an MRC file: a PDB model"),
            ("model.cif", Array("data_1ABC\nloop_\n_atom_site.group_PDB\nATOM\n".utf8), "not an MRC file: an mmCIF model"),
            ("notes.mrc", Array(String(repeating: "a line of notes\n", count: 100).utf8), "not an MRC file: a text file"),
            ("volume.em", em(), "not an MRC file: an EM-format file"),
            ("map.mrc.xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00] + [UInt8](repeating: 0, count: 100), "xz-compressed; angpix reads gzip and bzip2 only"),
            ("map.mrc.zst", [0x28, 0xB5, 0x2F, 0xFD] + [UInt8](repeating: 0, count: 100), "zstd-compressed"),
            ("empty.mrc", [], "not an MRC file: an empty file"),
        ]
        for (name, bytes, expected) in cases {
            let path = dir.file(name)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            for args in [["map", "info", path], ["map", "info", path, "--json"], ["map", "rescale", path, "--angpix", "2", "-o", dir.file("o.mrc")]] {
                let r = try runAngpix(args)
                #expect(r.status == 1, "\(name)")
                #expect(r.stderr.contains("\(path): \(expected)"), "\(name): \(r.stderr)")
                #expect(!r.stdout.contains("dimensions") && !r.stdout.contains("\"header\""), "\(name): \(r.stdout)")
            }
        }
        // A gzip-compressed STAR file is named too.
        try sh("gzip -c '\(dir.file("particles.star"))' > '\(dir.file("particles.mrc.gz"))'")
        let r = try runAngpix(["map", "info", dir.file("particles.mrc.gz")])
        #expect(r.stderr.contains("not an MRC file: a STAR file (text with data_ blocks); for STAR files use `angpix star info` (gzip-compressed)"), Comment(rawValue: r.stderr))
    }

    @Test("valid is true in --json when there are warnings only (as mrcfile.validate), false with an error")
    func validMeansNoErrors() throws {
        let dir = TemporaryDirectory()
        let p = dir.file("a.mrc"), warned = dir.file("warned.mrc")
        try MRCFile.write(map(16, pixelSize: 1, seed: 2), to: p, policy: OutputPolicy())
        try MRCFile.rewriteHeader(input: p, output: warned, policy: OutputPolicy()) { $0.dmean = 100; $0.nversion = 0 }
        let r = try runAngpix(["map", "info", warned, "--json"])
        #expect(r.status == 0)
        let info = try json(r)
        let problems = info["problems"] as? [[String: Any]] ?? []
        #expect(!problems.isEmpty && problems.allSatisfy { $0["severity"] as? String == "warning" })
        #expect(info["valid"] as? Bool == true)
        // An error (NaN voxels) makes it invalid, with exit 1.
        var bad = map(16, pixelSize: 1, seed: 3)
        bad.data[5] = .nan
        try MRCFile.write(bad, to: dir.file("nan.mrc"), policy: OutputPolicy())
        let e = try runAngpix(["map", "info", dir.file("nan.mrc"), "--json"])
        #expect(e.status == 1)
        #expect(try json(e)["valid"] as? Bool == false)
    }

    @Test("CELLA 0: read with a warning that the pixel size is unknown; rescale asks for --input-angpix")
    func zeroCell() throws {
        let dir = TemporaryDirectory()
        let p = dir.file("a.mrc"), zero = dir.file("zero.mrc")
        try MRCFile.write(map(16, pixelSize: 1, seed: 4), to: p, policy: OutputPolicy())
        try MRCFile.rewriteHeader(input: p, output: zero, policy: OutputPolicy()) { $0.cella = MRCTriple(0, 0, 0) }
        let r = try runAngpix(["map", "info", zero])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        #expect(r.stdout.contains("voxel size:    unknown (CELLA 0 0 0, MX MY MZ 16 16 16)"))
        #expect(r.stdout.contains("warning: the cell CELLA is 0 0 0: the pixel size is unknown"))
        let info = try json(try runAngpix(["map", "info", zero, "--json"]))
        #expect(info["valid"] as? Bool == true)
        #expect(info["pixelSizeKnown"] as? Bool == false)
        let refused = try runAngpix(["map", "rescale", zero, "--angpix", "2", "-o", dir.file("o.mrc")])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(zero): the header gives no pixel size (CELLA 0 0 0); map rescale needs one: give it with --input-angpix"))
        let ok = try runAngpix(["map", "rescale", zero, "--input-angpix", "1", "--angpix", "2", "-o", dir.file("o.mrc")])
        #expect(ok.status == 0, Comment(rawValue: ok.stderr))
        #expect(try MRCFile.readHeader(path: dir.file("o.mrc")).pixelSize == 2)
        // set-pixel-size gives it one, keeping MX MY MZ.
        let fixed = dir.file("fixed.mrc")
        #expect(try runAngpix(["map", "set-pixel-size", zero, "--angpix", "1.3", "-o", fixed]).status == 0)
        #expect(abs(try MRCFile.readHeader(path: fixed).pixelSize - 1.3) < 1e-6)
    }

    @Test(".mrcs stacks with ISPG 0 and MZ = NZ (cryoDRGN, tomoDRGN) are stacks in map info and map rescale")
    func stacksByExtension() throws {
        let dir = TemporaryDirectory()
        var stack = MRCMap(nx: 16, ny: 16, nz: 6, pixelSize: 2, data: map(16, pixelSize: 2, seed: 5).data.prefix(16 * 16 * 6).map { $0 })
        stack.origin = MRCTriple(0, 0, 0)
        let mrc = dir.file("written.mrc")
        try MRCFile.write(stack, to: mrc, policy: OutputPolicy())
        // As cryoDRGN's make_default_header: ISPG 0, MX MY MZ = NX NY NZ, CELLA = Apix · N.
        let mrcs = dir.file("particles.mrcs"), asMRC = dir.file("particles_as.mrc")
        for out in [mrcs, asMRC] {
            try MRCFile.rewriteHeader(input: mrc, output: out, policy: OutputPolicy()) { h in
                h.ispg = 0; h.mx = 16; h.my = 16; h.mz = 6; h.cella = MRCTriple(32, 32, 12)
            }
        }
        let s = try json(try runAngpix(["map", "info", mrcs, "--json"]))
        #expect(s["kind"] as? String == "image stack")
        #expect(s["kindReason"] as? String == "the .mrcs extension (RELION reads .mrcs files as stacks)")
        #expect((s["problems"] as? [Any])?.isEmpty == true)
        let text = try runAngpix(["map", "info", mrcs]).stdout
        #expect(text.contains("16 × 16 × 6, image stack (6 images of 16 × 16), ISPG 0"))
        #expect(text.contains("read as:       image stack, decided by the .mrcs extension"))
        let v = try json(try runAngpix(["map", "info", asMRC, "--json"]))
        #expect(v["kind"] as? String == "volume")
        #expect(v["kindReason"] as? String == "ISPG 0 with MZ = NZ, as RELION writes volumes")
        let r = try runAngpix(["map", "rescale", mrcs, "--angpix", "4", "-o", dir.file("small.mrcs"), "--json"])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        let summary = try json(r)
        #expect(summary["kind"] as? String == "stack")
        #expect(summary["images"] as? Int == 6)
    }

    @Test("set-pixel-size on a crystallographic map (EMDB: MX ≠ NX, NXSTART set) keeps MX MY MZ and ISPG and scales CELLA")
    func crystallographic() throws {
        let dir = TemporaryDirectory()
        let p = dir.file("plain.mrc"), emdb = dir.file("emd.map"), out = dir.file("out.map")
        try MRCFile.write(map(16, pixelSize: 1, seed: 6), to: p, policy: OutputPolicy())
        try MRCFile.rewriteHeader(input: p, output: emdb, policy: OutputPolicy()) { h in
            h.mx = 64; h.my = 64; h.mz = 48; h.cella = MRCTriple(64, 64, 48); h.ispg = 19
            h.nxstart = -8; h.nystart = 4; h.nzstart = 20
        }
        let r = try runAngpix(["map", "set-pixel-size", emdb, "--angpix", "1.25", "-o", out])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        let h = try MRCFile.readHeader(path: out)
        #expect(h.mx == 64 && h.my == 64 && h.mz == 48)
        #expect(h.ispg == 19)
        #expect(h.cella == MRCTriple(80, 80, 60))
        #expect(h.nxstart == -8 && h.nystart == 4 && h.nzstart == 20)
        #expect(h.voxelSize == MRCTriple(1.25, 1.25, 1.25))
    }

    @Test("map rescale keeps a stack's z voxel size as relion_image_handler does")
    func stackZVoxelSize() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.mrcs"), plain = dir.file("plain.mrcs")
        let stack = MRCMap(nx: 32, ny: 32, nz: 5, pixelSize: 2, data: (0..<(32 * 32 * 5)).map { Float(sin(Double($0) * 0.37)) })
        try MRCFile.write(stack, to: plain, policy: OutputPolicy(), isStack: true)
        // z voxel size 1.4 (MZ = NZ = 5, CELLA z 7), x and y 2 Å.
        try MRCFile.rewriteHeader(input: plain, output: input, policy: OutputPolicy()) { h in h.mz = 5; h.cella.z = 7 }
        let ours = dir.file("ours.mrcs")
        #expect(try runAngpix(["map", "rescale", input, "--angpix", "4", "-o", ours]).status == 0)
        let h = try MRCFile.readHeader(path: ours)
        #expect(h.mz == 1 && abs(Double(h.cella.z) - 1.4) < 1e-6 && abs(h.pixelSize - 4) < 1e-6)
        guard let handler = Relion.path("relion_image_handler") else { print(Relion.missing("relion_image_handler")); return }
        let theirs = dir.file("relion.mrcs")
        let rr = try runProcess(handler, ["--i", input, "--o", theirs, "--rescale_angpix", "4"])
        #expect(rr.status == 0, Comment(rawValue: rr.stderr))
        let t = try MRCFile.readHeader(path: theirs)
        #expect(t.mx == h.mx && t.my == h.my && t.mz == h.mz)
        #expect(t.cella == h.cella, "RELION \(t.cella), angpix \(h.cella)")
    }
}
