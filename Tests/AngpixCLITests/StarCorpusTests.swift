// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The STAR corpus of Tests/Fixtures/star (one small file per real producer and shape, listed with
// its producer in that folder's README): `angpix star info --json` on every file (kind, blocks,
// rows, labels), and the same files read by Python's `starfile` and `gemmi`, compared block by
// block, label by label and value by value with angpix's reading (numbers to 1e-6 relative).

import Testing
import Foundation
import AngpixSTAR
import AngpixTestSupport

/// What `star info` must say about one corpus file.
struct CorpusExpectation: Sendable, CustomStringConvertible {
    var file: String
    var kind: String
    /// (block name, rows, columns) in file order.
    var blocks: [(String, Int, Int)]
    var description: String { file }
}

let starCorpus: [CorpusExpectation] = [
    // RELION 3.0 relion_refine output (3.0-style: optics per particle).
    .init(file: "relion30_particles.star", kind: "RELION 3.0 (no optics table)", blocks: [("", 3, 20)]),
    // RELION 3.0-era particles without rlnVoltage (like 15 of the 29 real 3.0 files of issue 15).
    .init(file: "relion30_particles_no_voltage.star", kind: "RELION 3.0 (no optics table)", blocks: [("images", 2, 9)]),
    // RELION 3.1 Refine3D run_data.star, CtfFind micrographs_ctf.star, Import movies.star.
    .init(file: "relion31_particles.star", kind: "RELION 3.1+ particles", blocks: [("optics", 2, 9), ("particles", 2, 26)]),
    .init(file: "relion31_micrographs.star", kind: "RELION 3.1+ micrographs", blocks: [("optics", 1, 7), ("micrographs", 2, 11)]),
    .init(file: "relion31_movies.star", kind: "RELION 3.1+ movies", blocks: [("optics", 1, 7), ("movies", 3, 2)]),
    // RELION 4.0 single-particle (helical Extract) particles.
    .init(file: "relion4_spa_particles.star", kind: "RELION 3.1+ particles", blocks: [("optics", 1, 10), ("particles", 2, 17)]),
    // RELION 4.0 tomography: tomograms.star (data_global and one block per tilt series), particles.
    .init(file: "relion4_tomograms.star", kind: "RELION tomography tilt-series set", blocks: [("global", 2, 13), ("TS_01", 3, 9), ("TS_03", 3, 9)]),
    .init(file: "relion4_tomo_particles.star", kind: "RELION tomography particles", blocks: [("optics", 1, 10), ("particles", 3, 16)]),
    // RELION 5.0: Refine3D run_data.star without rlnAmplitudeContrast, tomography files.
    .init(file: "relion5_run_data.star", kind: "RELION 3.1+ particles", blocks: [("optics", 1, 8), ("particles", 2, 22)]),
    .init(file: "relion5_tomograms.star", kind: "RELION tomography tilt-series set", blocks: [("global", 2, 12)]),
    .init(file: "relion5_tilt_series_TS_01.star", kind: "RELION tomography tilt series", blocks: [("TS_01", 2, 19)]),
    .init(file: "relion5_tomo_particles_2dstacks.star", kind: "RELION tomography particles, subtomograms as 2D stacks",
          blocks: [("general", 1, 1), ("optics", 1, 11), ("particles", 2, 16)]),
    .init(file: "relion5_tomo_picked_particles.star", kind: "RELION tomography particles", blocks: [("particles", 3, 4)]),
    .init(file: "relion5_optimisation_set.star", kind: "RELION tomography optimisation set", blocks: [("", 1, 2)]),
    // Warp 1.0 (3.0-style with rlnMagnification/rlnDetectorPixelSize), cryoDRGN (N@file.mrc, no
    // magnification), tomoDRGN's Warp sub-tilt series.
    .init(file: "warp_particles.star", kind: "RELION 3.0 (no optics table)", blocks: [("", 2, 15)]),
    .init(file: "cryodrgn_particles_mrc_stack.star", kind: "RELION 3.0 (no optics table)", blocks: [("", 3, 13)]),
    .init(file: "tomodrgn_warp_subtilts.star", kind: "RELION 3.0 (no optics table)", blocks: [("", 3, 19)]),
    // RELION pipeline, job and postprocess files.
    .init(file: "relion_default_pipeline.star", kind: "RELION pipeline",
          blocks: [("pipeline_general", 1, 1), ("pipeline_processes", 3, 4), ("pipeline_nodes", 3, 3),
                   ("pipeline_input_edges", 2, 2), ("pipeline_output_edges", 3, 2)]),
    .init(file: "relion_job.star", kind: "RELION job options", blocks: [("job", 1, 3), ("joboptions_values", 7, 2)]),
    .init(file: "relion_postprocess.star", kind: "RELION postprocess", blocks: [("general", 1, 6), ("fsc", 3, 7), ("guinier", 2, 6)]),
    // Broken shapes: an optics table not named data_optics; an optics value that is NaN.
    .init(file: "optics_like_first_block.star", kind: "RELION 3.1+ particles", blocks: [("", 1, 7), ("particles", 2, 4)]),
    .init(file: "invalid_optics_nan.star", kind: "RELION 3.1+ particles", blocks: [("optics", 1, 8), ("particles", 2, 4)]),
]

/// The decoded `star info --json`.
struct InfoJSON: Decodable {
    struct Block: Decodable { var name: String; var loop: Bool; var rows: Int; var columns: Int; var labels: [String] }
    struct Group: Decodable {
        var number: Int; var name: String; var pixelSize: Double?; var imageSize: Int; var voltage: Double?
        var sphericalAberration: Double?; var amplitudeContrast: Double?; var rows: Int
    }
    var file: String; var kind: String; var blocks: [Block]; var table: String?; var opticsGroups: [Group]?
    var absentOpticsLabels: [String]?; var problems: [String]; var notes: [String]
    struct Tomogram: Decodable {
        var name: String; var tiltSeriesPixelSize: Double?; var originalPixelSize: Double?; var voltage: Double?
        var sphericalAberration: Double?; var amplitudeContrast: Double?; var tilts: Int?
    }
    var tomograms: [Tomogram]?
}

func corpusPath(_ name: String) throws -> String { try fixture("star/\(name)") }

func starInfo(_ path: String) throws -> InfoJSON {
    let r = try runAngpix(["star", "info", path, "--json"])
    #expect(r.status == 0, "star info \(path): \(r.stderr)")
    return try JSONDecoder().decode(InfoJSON.self, from: Data(r.stdout.utf8))
}

@Test("star info --json on every corpus file: kind, blocks, rows, labels", arguments: starCorpus)
func corpusInfo(_ e: CorpusExpectation) throws {
    let path = try corpusPath(e.file)
    let info = try starInfo(path)
    #expect(info.kind == e.kind)
    #expect(info.blocks.map(\.name) == e.blocks.map(\.0))
    #expect(info.blocks.map(\.rows) == e.blocks.map(\.1))
    #expect(info.blocks.map(\.columns) == e.blocks.map(\.2))
    // The labels are the file's, in order.
    let doc = try STARDocument(path: path)
    #expect(info.blocks.map(\.labels) == doc.blocks.map(\.labels))
    for b in info.blocks { #expect(b.labels.count == b.columns) }
}

@Test("star info on files RELION 4/5 write without rlnAmplitudeContrast: groups shown, Q0 absent, RELION's Q0 = 0 said")
func corpusInfoWithoutQ0() throws {
    // RELION 5 Refine3D run_data.star.
    let r5 = try starInfo(try corpusPath("relion5_run_data.star"))
    #expect(r5.problems.isEmpty)
    #expect(r5.absentOpticsLabels == ["rlnAmplitudeContrast"])
    let g = try #require(r5.opticsGroups?.first)
    #expect(g.pixelSize == 1.05 && g.imageSize == 200 && g.voltage == 300 && g.sphericalAberration == 2.7 && g.amplitudeContrast == nil && g.rows == 2)
    #expect(r5.notes.contains { $0.contains("Q0 = 0") && $0.contains("CTF::readByGroup") })
    // RELION 4 tomography particles: the pixel size is the subtomograms' rlnImagePixelSize.
    let t4 = try starInfo(try corpusPath("relion4_tomo_particles.star"))
    #expect(t4.opticsGroups?.first?.pixelSize == 5.4 && t4.opticsGroups?.first?.rows == 3)
    #expect(t4.problems.isEmpty)
    let text = try runAngpix(["star", "info", try corpusPath("relion5_run_data.star")])
    #expect(text.status == 0)
    #expect(text.stdout.contains("note: data_optics has no _rlnAmplitudeContrast column: Q0 = 0"))
}

@Test("star info on a file whose rlnImageSize is nan describes the file and lists the problem")
func corpusInfoInvalidOptics() throws {
    let path = try corpusPath("invalid_optics_nan.star")
    let info = try starInfo(path)
    #expect(info.blocks.count == 2)
    #expect(info.problems.count == 1)
    #expect(info.problems.first?.contains("rlnImageSize") == true)
    #expect(info.problems.first?.contains("nan") == true)
    #expect(info.opticsGroups?.first?.pixelSize == 1.06)
    let text = try runAngpix(["star", "info", path])
    #expect(text.status == 0)
    #expect(text.stdout.contains("problems:"))
    // A file whose optics table is not named data_optics: described, the problem named.
    let misnamed = try starInfo(try corpusPath("optics_like_first_block.star"))
    #expect(misnamed.problems.first?.contains("without a data_optics table") == true)
}

// MARK: starfile and gemmi

/// Whether python3 can import both `starfile` and `gemmi`.
let hasStarfileAndGemmi: Bool = {
    (try? runProcess("/usr/bin/env", ["python3", "-c", "import starfile, gemmi"]).status) == 0
}()

/// Reads each file with gemmi.cif and starfile; prints {file: {"gemmi": [...], "starfile": [...]}}
/// with each block's name, loop flag, labels, rows and values as text.
let corpusReaderScript = #"""
import sys, json, os
import gemmi, starfile
out = {}
for path in sys.argv[1:]:
    g = []
    for b in gemmi.cif.read_file(path):
        blk = {"name": b.name.strip(), "loop": False, "labels": [], "rows": 0, "values": []}
        loops = [i.loop for i in b if i.loop is not None]
        if loops:
            lp = loops[0]
            blk.update(loop=True, labels=[t[1:] for t in lp.tags], rows=lp.length(),
                       values=[[lp[r, c] for c in range(lp.width())] for r in range(lp.length())])
        else:
            pairs = [i.pair for i in b if i.pair is not None]
            blk.update(labels=[p[0][1:] for p in pairs], rows=1, values=[[p[1] for p in pairs]])
        g.append(blk)
    s = []
    for k, v in starfile.read(path, always_dict=True).items():
        if isinstance(v, dict):
            s.append({"name": str(k), "loop": False, "labels": [str(x) for x in v.keys()], "rows": 1,
                      "values": [[str(x) for x in v.values()]]})
        else:
            s.append({"name": str(k), "loop": True, "labels": [str(c) for c in v.columns], "rows": len(v),
                      "values": [[str(x) for x in row] for row in v.itertuples(index=False)]})
    out[os.path.basename(path)] = {"gemmi": g, "starfile": s}
print(json.dumps(out))
"""#

struct ReaderBlock: Decodable { var name: String; var loop: Bool; var labels: [String]; var rows: Int; var values: [[String]] }

/// Two values read by different programs agree: the same text, or numbers within 1e-6 relative.
func sameCorpusValue(_ a: String, _ b: String) -> Bool {
    if a == b { return true }
    let unquote = { (s: String) -> String in
        s.count >= 2 && (s.hasPrefix("\"") && s.hasSuffix("\"") || s.hasPrefix("'") && s.hasSuffix("'")) ? String(s.dropFirst().dropLast()) : s
    }
    if unquote(a) == unquote(b) { return true }
    guard let x = Double(a.lowercased()), let y = Double(b.lowercased()) else { return false }
    if x.isNaN && y.isNaN { return true }
    return abs(x - y) <= 1e-6 * max(abs(x), abs(y), 1e-300)
}

@Test("The corpus read by angpix, Python starfile and gemmi: same blocks, rows, labels and values",
      .enabled(if: hasStarfileAndGemmi, "python3 with starfile and gemmi is not installed (pip install starfile gemmi); comparison skipped"))
func corpusAgreesWithStarfileAndGemmi() throws {
    let paths = try starCorpus.map { try corpusPath($0.file) }
    let r = try runProcess("/usr/bin/env", ["python3", "-c", corpusReaderScript] + paths)
    #expect(r.status == 0, "python3 failed: \(r.stderr)")
    let readers = try JSONDecoder().decode([String: [String: [ReaderBlock]]].self, from: Data(r.stdout.utf8))
    var compared = 0
    for (e, path) in zip(starCorpus, paths) {
        let doc = try STARDocument(path: path)
        for reader in ["gemmi", "starfile"] {
            let theirs = try #require(readers[e.file]?[reader], "\(reader) gave nothing for \(e.file)")
            #expect(theirs.map(\.name) == doc.blocks.map(\.name), "\(e.file): \(reader) blocks")
            for (b, t) in zip(doc.blocks, theirs) {
                #expect(b.isLoop == t.loop, "\(e.file) data_\(b.name): \(reader) loop")
                #expect(b.labels == t.labels, "\(e.file) data_\(b.name): \(reader) labels")
                #expect((b.isLoop ? b.rowCount : 1) == t.rows, "\(e.file) data_\(b.name): \(reader) rows")
                guard b.labels == t.labels, (b.isLoop ? b.rowCount : 1) == t.rows else { continue }
                for row in 0..<t.rows {
                    for (c, label) in b.labels.enumerated() {
                        let mine = b.string(row: row, label) ?? ""
                        #expect(sameCorpusValue(mine, t.values[row][c]),
                                "\(e.file) data_\(b.name) row \(row + 1) \(label): angpix '\(mine)', \(reader) '\(t.values[row][c])'")
                        compared += 1
                    }
                }
            }
        }
    }
    print("corpus: \(starCorpus.count) files, \(compared) values compared with starfile and gemmi")
    #expect(compared > 500)
}

@Test("star info lists the tomograms of RELION 4 and 5 tilt-series sets with their pixel sizes")
func corpusInfoTomograms() throws {
    let r4 = try starInfo(try corpusPath("relion4_tomograms.star"))
    #expect(r4.tomograms?.map(\.name) == ["TS_01", "TS_03"])
    #expect(r4.tomograms?.map(\.tiltSeriesPixelSize) == [1.35, 1.35])
    #expect(r4.tomograms?.map(\.tilts) == [3, 3])
    #expect(r4.tomograms?.first?.amplitudeContrast == 0.07 && r4.tomograms?.first?.voltage == 300)
    let r5 = try starInfo(try corpusPath("relion5_tomograms.star"))
    #expect(r5.tomograms?.first?.originalPixelSize == 0.675 && r5.tomograms?.first?.tiltSeriesPixelSize == 1.35)
    // RELION 5 keeps each tilt series in its own file: no tilt count here.
    #expect(r5.tomograms?.first?.tilts == nil)
    let text = try runAngpix(["star", "info", try corpusPath("relion4_tomograms.star")])
    #expect(text.stdout.contains("tomograms:"))
    #expect(text.stdout.contains("TS_03"))
}
