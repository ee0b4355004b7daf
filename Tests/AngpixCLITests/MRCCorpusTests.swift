// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A corpus of MRC files shaped like those real producers write (issue 15), generated here, small
// (16³-64³), and read with `angpix map info --json`. Where Python's mrcfile is importable, the
// shape, voxel size, mean and RMS are compared with mrcfile's (numpy in float64) to 1e-6
// relative; otherwise that comparison is skipped with a message. Where RELION is installed, some
// files are written by relion_image_handler itself. The shapes and who writes them:
//  - EMDB map entries: mode 2, ISPG 1, NXSTART set, MX ≠ NX (a box cut from a larger cell), a
//    label, gzip-compressed (the EMDB distributes emd_NNNN.map.gz);
//  - RELION 3.1 volumes (ISPG 0 with MZ = NZ, as rwMRC.h writes them) and .mrcs stacks (ISPG 0,
//    MZ 1), by relion_image_handler where installed;
//  - cryoDRGN and tomoDRGN .mrcs stacks (their MRCHeader.make_default_header: ISPG 0 for stacks,
//    MX MY MZ = NX NY NZ, CELLA = Apix·N, DMIN DMAX DMEAN RMS = -1 -2 -3 -1 "not computed");
//  - float16 (mode 12) .mrcs stacks (the mode WarpTools can write), same ISPG 0, MZ = NZ shape;
//  - IMOD files: mode 0 with the IMOD stamp and the signed flag clear (unsigned bytes), modes 1,
//    6 and 12 with the stamp;
//  - mrcfile's own files (written by Python mrcfile where importable): a volume, an int16 stack,
//    a bzip2-compressed volume;
//  - a scan image of counts near 3·10⁵ and maps on offsets of 7·10⁵ and 10⁷ (statistics);
//  - a map with CELLA 0 (pixel size unknown).

import Foundation
import Testing
import AngpixCore
import AngpixTestSupport

/// A python3 that can import mrcfile (and numpy), or nil.
private let pythonWithMrcfile: String? = {
    for p in ["/usr/bin/env"] {
        if let r = try? runProcess(p, ["python3", "-c", "import mrcfile, numpy"]), r.status == 0 { return p }
    }
    return nil
}()

private func floatBytes(_ values: [Float]) -> [UInt8] {
    var out = [UInt8](); out.reserveCapacity(values.count * 4)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    return out
}

private func noise(_ count: Int, seed: UInt64, mean: Double, sd: Double) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        // Sum of 4 uniforms: roughly normal, enough for statistics.
        let u = (0..<4).map { _ in Double(rng.next() >> 11) / Double(1 << 53) }.reduce(0, +) - 2
        return mean + sd * u * 1.7
    }
}

/// Writes `raw` with a label (word 56 NLABL, labels from byte 224).
private func write(_ raw: RawMRC, labels: [String] = [], to path: String) {
    var bytes = raw.bytes
    if !labels.isEmpty {
        let n = UInt32(labels.count).littleEndian
        withUnsafeBytes(of: n) { for k in 0..<4 { bytes[220 + k] = $0[k] } }
        for (i, label) in labels.enumerated() {
            for (k, c) in label.utf8.prefix(80).enumerated() { bytes[224 + 80 * i + k] = c }
        }
    }
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// Sets the IMOD stamp with the given flags (bit 0: mode-0 bytes are signed).
private func imod(_ raw: inout RawMRC, flags: Int32) {
    raw.imodStamp = 1146047817
    raw.imodFlags = flags
}

/// The corpus: file name → what the test expects angpix to say of its kind.
private func makeCorpus(in dir: TemporaryDirectory) throws -> [String: String] {
    var kinds: [String: String] = [:]

    // EMDB entry: 40 × 36 × 32 cut at (-20, -18, -16) from an 80 × 72 × 64 cell of 1.06 Å voxels.
    do {
        let n = 40 * 36 * 32
        var raw = RawMRC(n: (40, 36, 32), m: (80, 72, 64), cella: (84.8, 76.32, 67.84))
        raw.start = (-20, -18, -16)
        raw.data = floatBytes(noise(n, seed: 1, mean: 0.01, sd: 0.05).map { Float($0) })
        let path = dir.file("emd_1234.map")
        write(raw, labels: ["::::EMDATABANK.org::::EMD-1234::::"], to: path)
        try runProcess("/bin/sh", ["-c", "gzip -n -f '\(path)'"])
        kinds["emd_1234.map.gz"] = "volume"
    }
    // cryoDRGN / tomoDRGN stack: ISPG 0, MZ = NZ, statistics marked as not computed.
    do {
        var raw = RawMRC(n: (32, 32, 12), m: (32, 32, 12), cella: (32 * 2.1, 32 * 2.1, 12 * 2.1))
        raw.ispg = 0
        raw.dmin = -1; raw.dmax = -2; raw.dmean = -3
        raw.data = floatBytes(noise(32 * 32 * 12, seed: 2, mean: 0, sd: 1).map { Float($0) })
        write(raw, to: dir.file("cryodrgn_particles.mrcs"))
        kinds["cryodrgn_particles.mrcs"] = "image stack"
    }
    // float16 stack of the same shape (mode 12, as WarpTools can write).
    do {
        var raw = RawMRC(n: (24, 24, 8), m: (24, 24, 8), cella: (24 * 1.5, 24 * 1.5, 8 * 1.5))
        raw.ispg = 0; raw.mode = 12
        var data = [UInt8]()
        for v in noise(24 * 24 * 8, seed: 3, mean: 0, sd: 1) {
            withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        raw.data = data
        write(raw, to: dir.file("warp_particles.mrcs"))
        kinds["warp_particles.mrcs"] = "image stack"
    }
    // IMOD: unsigned bytes (stamp, signed flag clear), int16, uint16, float16.
    do {
        var raw = RawMRC(n: (20, 18, 16), m: (20, 18, 16), cella: (20 * 3.2, 18 * 3.2, 16 * 3.2))
        imod(&raw, flags: 0)
        raw.mode = 0
        raw.data = noise(20 * 18 * 16, seed: 4, mean: 150, sd: 30).map { UInt8(max(0, min(255, $0.rounded()))) }
        write(raw, labels: ["Clip: 2D FFT"], to: dir.file("imod_uint8.mrc"))
        kinds["imod_uint8.mrc"] = "volume"
        raw.mode = 1
        raw.data = noise(20 * 18 * 16, seed: 5, mean: -200, sd: 900).flatMap { v -> [UInt8] in
            let i = Int16(max(-32768, min(32767, v.rounded())))
            return withUnsafeBytes(of: i.littleEndian) { Array($0) }
        }
        write(raw, to: dir.file("imod_int16.mrc"))
        kinds["imod_int16.mrc"] = "volume"
        raw.mode = 6
        raw.data = noise(20 * 18 * 16, seed: 6, mean: 30000, sd: 5000).flatMap { v -> [UInt8] in
            withUnsafeBytes(of: UInt16(max(0, min(65535, v.rounded()))).littleEndian) { Array($0) }
        }
        write(raw, to: dir.file("imod_uint16.mrc"))
        kinds["imod_uint16.mrc"] = "volume"
        raw.mode = 12
        raw.data = noise(20 * 18 * 16, seed: 7, mean: 5, sd: 2).flatMap { v -> [UInt8] in
            withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { Array($0) }
        }
        write(raw, to: dir.file("imod_float16.mrc"))
        kinds["imod_float16.mrc"] = "volume"
    }
    // A scan image (counts near 3·10⁵) and maps on large offsets.
    for (name, offset, sd) in [("scan_image.mrc", 3e5, 15.6), ("offset_7e5.mrc", 7e5, 15.6), ("offset_1e7.mrc", 1e7, 40.0)] {
        let nz: Int32 = name == "scan_image.mrc" ? 1 : 16
        var raw = RawMRC(n: (64, 64, nz), m: (64, 64, nz), cella: (64 * 0.8, 64 * 0.8, Float(nz) * 0.8))
        raw.data = floatBytes(noise(64 * 64 * Int(nz), seed: 8, mean: offset, sd: sd).map { Float($0.rounded()) })
        write(raw, to: dir.file(name))
        kinds[name] = nz == 1 ? "image" : "volume"
    }
    // CELLA 0: the pixel size is unknown.
    do {
        var raw = RawMRC(n: (16, 16, 16), m: (16, 16, 16), cella: (0, 0, 0))
        raw.data = floatBytes(noise(16 * 16 * 16, seed: 9, mean: 0, sd: 1).map { Float($0) })
        write(raw, to: dir.file("zero_cell.mrc"))
        kinds["zero_cell.mrc"] = "volume"
    }
    // Files written by Python mrcfile itself.
    if pythonWithMrcfile != nil {
        let script = dir.write("make_mrcfile.py", """
        import mrcfile, numpy as np
        rng = np.random.default_rng(15)
        with mrcfile.new('mrcfile_volume.mrc', overwrite=True) as m:
            m.set_data(rng.normal(0.5, 2.0, (24, 28, 32)).astype(np.float32)); m.voxel_size = 1.234
        with mrcfile.new('mrcfile_stack.mrcs', overwrite=True) as m:
            m.set_data(rng.integers(-500, 500, (6, 30, 30)).astype(np.int16)); m.set_image_stack(); m.voxel_size = 0.85
        with mrcfile.new('mrcfile_volume.mrc.bz2', overwrite=True, compression='bzip2') as m:
            m.set_data(rng.normal(-1.0, 0.3, (20, 20, 20)).astype(np.float32)); m.voxel_size = 2.5
        # RELION-style input for relion_image_handler below.
        with mrcfile.new('relion_input.mrc', overwrite=True) as m:
            m.set_data(rng.normal(0.0, 1.0, (32, 32, 32)).astype(np.float32)); m.voxel_size = 1.1
        with mrcfile.new('relion_input.mrcs', overwrite=True) as m:
            m.set_data(rng.normal(0.0, 1.0, (5, 32, 32)).astype(np.float32)); m.set_image_stack(); m.voxel_size = 1.1
        """)
        let r = try runProcess("/usr/bin/env", ["python3", script], cwd: dir.url.path)
        #expect(r.status == 0, "\(r.stderr)")
        kinds["mrcfile_volume.mrc"] = "volume"
        kinds["mrcfile_stack.mrcs"] = "image stack"
        kinds["mrcfile_volume.mrc.bz2"] = "volume"
        if let handler = Relion.path("relion_image_handler") {
            // What relion_image_handler writes for a volume and for a stack.
            for (input, output, kind) in [("relion_input.mrc", "relion31_class001.mrc", "volume"),
                                          ("relion_input.mrcs", "relion31_particles.mrcs", "image stack")] {
                let rr = try runProcess(handler, ["--i", input, "--o", output, "--multiply_constant", "1"], cwd: dir.url.path)
                #expect(rr.status == 0, "\(rr.stderr)")
                kinds[output] = kind
            }
        } else {
            print(Relion.missing("relion_image_handler"))
        }
    }
    return kinds
}

@Suite("MRC corpus from real producers")
struct MRCCorpusTests {
    @Test("map info reads every file of the corpus: valid, the right kind, and as mrcfile reads it")
    func corpus() throws {
        let dir = TemporaryDirectory("mrc-corpus")
        let kinds = try makeCorpus(in: dir)
        var infos: [String: [String: Any]] = [:]
        for name in kinds.keys.sorted() {
            let r = try runAngpix(["map", "info", dir.file(name), "--json"])
            #expect(r.status == 0, "\(name): \(r.stderr)")
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(name)")
            #expect(obj["valid"] as? Bool == true, "\(name): \(obj["problems"] ?? "")")
            #expect(obj["kind"] as? String == kinds[name], "\(name): \(obj["kind"] ?? "nil"), \(obj["kindReason"] ?? "")")
            infos[name] = obj
        }
        // What the files' makers wrote.
        let emdb = try #require(infos["emd_1234.map.gz"])
        #expect(emdb["compression"] as? String == "gzip")
        #expect(abs((emdb["pixelSize"] as? Double ?? 0) - 1.06) < 1e-6)
        #expect((emdb["header"] as? [String: Any])?["labels"] as? [String] == ["::::EMDATABANK.org::::EMD-1234::::"])
        #expect(infos["zero_cell.mrc"]?["pixelSizeKnown"] as? Bool == false)
        #expect(infos["cryodrgn_particles.mrcs"]?["kindReason"] as? String == "the .mrcs extension (RELION reads .mrcs files as stacks)")

        guard pythonWithMrcfile != nil else {
            print("python3 with mrcfile and numpy is not importable: the comparison of the corpus with mrcfile is skipped")
            return
        }
        let script = dir.write("read_mrcfile.py", """
        import sys, json, mrcfile, numpy as np
        out = {}
        for path in sys.argv[1:]:
            with mrcfile.open(path, permissive=True) as m:
                h = m.header
                d = m.data
                # mrcfile reads mode 0 as int8 always; IMOD's stamp with the signed flag clear means
                # unsigned bytes (what IMOD, and angpix, read).
                stamp, flags = np.frombuffer(h.tobytes()[152:160], dtype=h.nx.dtype)
                if int(h.mode) == 0 and int(stamp) == 1146047817 and int(flags) & 1 == 0:
                    d = d.view(np.uint8)
                d = d.astype(np.float64)
                vs = m.voxel_size
                out[path] = {'shape': [int(x) for x in d.shape], 'voxel': [float(vs.x), float(vs.y), float(vs.z)],
                             'mean': float(d.mean()), 'rms': float(d.std())}
        print(json.dumps(out))
        """)
        let paths = kinds.keys.sorted().map { dir.file($0) }
        let r = try runProcess("/usr/bin/env", ["python3", script] + paths)
        #expect(r.status == 0, "\(r.stderr)")
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: Any]])
        var worst = 0.0
        for name in kinds.keys.sorted() {
            let ours = try #require(infos[name]), theirs = try #require(reference[dir.file(name)])
            // mrcfile's shape is (NZ, NY, NX), or (NY, NX) for a single image.
            var shape = (theirs["shape"] as? [Int] ?? []).reversed().map { $0 }
            if shape.count == 2 { shape.append(1) }
            #expect(ours["mapSize"] as? [Int] == shape, "\(name): shape")
            let voxel = ours["voxelSize"] as? [Double] ?? [], refVoxel = theirs["voxel"] as? [Double] ?? []
            for k in 0..<3 where k < voxel.count && k < refVoxel.count {
                #expect(abs(voxel[k] - refVoxel[k]) <= 1e-6 * max(1, abs(refVoxel[k])), "\(name): voxel size \(voxel) vs \(refVoxel)")
            }
            let stats = ours["statistics"] as? [String: Any] ?? [:]
            let mean = stats["mean"] as? Double ?? .nan, rms = stats["rms"] as? Double ?? .nan
            let refMean = theirs["mean"] as? Double ?? .nan, refRMS = theirs["rms"] as? Double ?? .nan
            let meanError = abs(mean - refMean) / max(abs(refMean), refRMS)
            let rmsError = abs(rms - refRMS) / refRMS
            worst = max(worst, meanError, rmsError)
            #expect(meanError <= 1e-6, "\(name): mean \(mean) vs mrcfile's \(refMean)")
            #expect(rmsError <= 1e-6, "\(name): rms \(rms) vs mrcfile's \(refRMS)")
        }
        printMeasured("MRC corpus (\(kinds.count) files): largest relative difference in mean or RMS from mrcfile", worst)
    }
}
