// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix calibrate model` and `angpix calibrate map` on MRC files simulated
// in the test (1orc at a known pixel size, header 3 % off).

import Foundation
import AngpixCore
import AngpixMRC
import AngpixModels
import Testing
import AngpixTestSupport

/// Writes 1orc's map simulated at `truePixel` with a header saying `headerPixel`, centred in a
/// `size`³ box, and the model moved to match the header (as if fitted at that pixel size).
private func writeCase(_ dir: TemporaryDirectory, name: String, truePixel: Double, headerPixel: Double, size: Int) throws -> (map: String, model: String) {
    let model = try ModelReader.read(path: fixture("1orc.pdb")).model
    let c = model.centroid
    let centre = SIMD3(c.x, c.y, c.z)
    let grid = MapGrid.centred(on: centre, size: size, pixelSize: truePixel)
    let data = try ModelMap.simulate(model, grid: grid, settings: ModelMapSettings(overallBFactor: 30, resolution: 3))
    let mapPath = dir.file("\(name).mrc")
    try MRCFile.write(MRCMap(nx: size, ny: size, nz: size, pixelSize: headerPixel, data: data), to: mapPath, policy: .init())
    // Shift the model so that its centroid sits on the density's centroid at the header pixel size.
    let shift = (centre - grid.origin) / truePixel * headerPixel - centre
    var lines: [String] = []
    for (i, a) in model.atoms.enumerated() {
        let name4 = a.name.count < 4 ? " " + a.name.padding(toLength: 3, withPad: " ", startingAt: 0) : a.name
        lines.append(String(format: "ATOM  %5d %@ %3@ %1@%4d    %8.3f%8.3f%8.3f%6.2f%6.2f          %2@",
                            i + 1, name4, a.residueName, a.chain, a.residueNumber,
                            a.x + shift.x, a.y + shift.y, a.z + shift.z, a.occupancy, a.bFactor, a.element))
    }
    let modelPath = dir.write("\(name).pdb", lines.joined(separator: "\n") + "\nEND\n")
    return (mapPath, modelPath)
}

@Test func testCalibrateModelJSONFindsTruePixelSizeAndWritesPlot() throws {
    let dir = TemporaryDirectory()
    let (map, model) = try writeCase(dir, name: "a", truePixel: 1.0, headerPixel: 1.03, size: 56)
    let plot = dir.file("score.svg")
    let result = try runAngpix(["calibrate", "model", map, model, "--resolution", "3", "--json", "--plot", plot])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let pixel = try #require(json["pixelSize"] as? Double)
    #expect(abs(pixel - 1.0) < 0.002)
    #expect((json["uncertainty"] as? Double ?? 0) > 0)
    #expect((json["curve"] as? [Any])?.count ?? 0 > 10)
    #expect((json["warnings"] as? [String])?.contains { $0.contains("biased") } == true)
    let svg = try String(contentsOfFile: plot, encoding: .utf8)
    #expect(svg.contains("<svg") && svg.contains("pixel size"))
    // The plot is not overwritten without --force.
    let again = try runAngpix(["calibrate", "model", map, model, "--resolution", "3", "--plot", plot])
    #expect(again.status == 1 && again.stderr.contains("already exists"))
}

@Test func testCalibrateModelTextPrintsPixelSizeAndWarning() throws {
    let dir = TemporaryDirectory()
    let (map, model) = try writeCase(dir, name: "b", truePixel: 1.0, headerPixel: 0.97, size: 56)
    let result = try runAngpix(["calibrate", "model", map, model, "--resolution", "3", "--range", "0.95:1.08"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("pixel size:      1.00"))
    #expect(result.stderr.contains("warning: a model refined against this same map"))
}

@Test func testCalibrateModelRejectsBadRange() throws {
    let dir = TemporaryDirectory()
    let (map, model) = try writeCase(dir, name: "c", truePixel: 1.0, headerPixel: 1.0, size: 48)
    let result = try runAngpix(["calibrate", "model", map, model, "--range", "1.1:0.9"])
    #expect(result.status != 0)
    #expect(result.stderr.contains("--range must be LOW:HIGH"))
}

@Test func testCalibrateModelWithUnknownElementNamesItAndTheLine() throws {
    let dir = TemporaryDirectory()
    let (map, model) = try writeCase(dir, name: "d", truePixel: 1.0, headerPixel: 1.0, size: 48)
    // Append a uranium atom (beyond Bi: not in the table) after the model's atoms.
    var lines = try String(contentsOfFile: model, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let end = try #require(lines.firstIndex(of: "END"))
    lines.insert("HETATM 9999  U   URA B   1      20.000  20.000  20.000  1.00 30.00           U", at: end)
    try lines.joined(separator: "\n").write(toFile: model, atomically: true, encoding: .utf8)
    let result = try runAngpix(["calibrate", "model", map, model])
    #expect(result.status == 1)
    #expect(result.stderr.contains("\(model):\(end + 1):") && result.stderr.contains("element(s) U"))
    #expect(result.stderr.contains("--skip-unknown-elements"))
}

@Test func testCalibrateMapFindsRelativeScale() throws {
    let dir = TemporaryDirectory()
    let (reference, _) = try writeCase(dir, name: "ref", truePixel: 1.0, headerPixel: 1.0, size: 56)
    let (map, _) = try writeCase(dir, name: "mov", truePixel: 1.1, headerPixel: 1.15, size: 52)
    let result = try runAngpix(["calibrate", "map", map, reference, "--resolution", "3.5", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let pixel = try #require(json["pixelSize"] as? Double)
    #expect(abs(pixel - 1.1) / 1.1 < 0.003)
}

@Test func testCalibrateMapHonoursHeaderOriginsAndRejectsBadOverlay() throws {
    let dir = TemporaryDirectory()
    let model = try ModelReader.read(path: fixture("1orc.pdb")).model
    let c = model.centroid
    let centre = SIMD3(c.x, c.y, c.z)
    // REFERENCE 1.0 Å (structure 3 Å off its box centre); MAP true 1.1 Å, header 1.14 Å, the
    // structure 12 Å off its box centre; both headers carry ORIGIN (Å).
    func write(_ name: String, size: Int, truePixel: Double, headerPixel: Double, offCentre: SIMD3<Double>) throws -> String {
        let grid = MapGrid(nx: size, ny: size, nz: size, pixelSize: truePixel,
                           origin: centre - SIMD3(repeating: Double(size / 2) * truePixel) - offCentre)
        let data = try ModelMap.simulate(model, grid: grid, settings: ModelMapSettings(overallBFactor: 30, resolution: 3.5))
        var map = MRCMap(nx: size, ny: size, nz: size, pixelSize: headerPixel, data: data)
        let o = grid.origin * (headerPixel / truePixel)
        map.origin = MRCTriple(Float(o.x), Float(o.y), Float(o.z))
        let path = dir.file("\(name).mrc")
        try MRCFile.write(map, to: path, policy: .init())
        return path
    }
    let reference = try write("ref", size: 56, truePixel: 1.0, headerPixel: 1.0, offCentre: SIMD3(2, -2, 1))
    let map = try write("mov", size: 52, truePixel: 1.1, headerPixel: 1.14, offCentre: SIMD3(-9, 7, -6))
    let result = try runAngpix(["calibrate", "map", map, reference, "--resolution", "3.5", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let pixel = try #require(json["pixelSize"] as? Double)
    #expect(abs(pixel - 1.1) / 1.1 < 0.003)
    let text = try runAngpix(["calibrate", "map", map, reference, "--resolution", "3.5"])
    #expect(text.stdout.contains("overlay:         by the header origins"))
    let bad = try runAngpix(["calibrate", "map", map, reference, "--overlay", "middle"])
    #expect(bad.status != 0 && bad.stderr.contains("--overlay must be auto, origin or centre"))
}

@Test func testCalibrateModelRefineRotationReportsTheRotation() throws {
    let dir = TemporaryDirectory()
    let (map, model) = try writeCase(dir, name: "r", truePixel: 1.0, headerPixel: 1.03, size: 48)
    let result = try runAngpix(["calibrate", "model", map, model, "--resolution", "3", "--refine-rotation", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let rotation = try #require(json["rotation"] as? [Double])
    let angle = try #require(json["rotationAngle"] as? Double)
    #expect(rotation.count == 3 && angle < 0.5)        // the model is not turned: no rotation found
    #expect(abs(try #require(json["pixelSize"] as? Double) - 1.0) < 0.003)
    let plain = try runAngpix(["calibrate", "model", map, model, "--resolution", "3"])
    let plainJSON = try runAngpix(["calibrate", "model", map, model, "--resolution", "3", "--json"])
    #expect(!plain.stdout.contains("rotation:") && !plainJSON.stdout.contains("\"rotation\""))
}

@Test func testCalibrationErrorsNameTheFiles() throws {
    let dir = TemporaryDirectory()
    let (map, model) = try writeCase(dir, name: "e", truePixel: 1.0, headerPixel: 1.0, size: 48)
    // The map's header origin 5000 Å away: no atom lies inside it.
    let far = dir.file("far.mrc")
    try MRCFile.rewriteHeader(input: map, output: far, policy: OutputPolicy()) { $0.origin = MRCTriple(5000, 5000, 5000) }
    let outside = try runAngpix(["calibrate", "model", far, model])
    #expect(outside.status == 1)
    #expect(outside.stderr.contains("atoms lie inside the map") && outside.stderr.contains(far) && outside.stderr.contains(model),
            "\(outside.stderr)")
    // A constant reference map: nothing to correlate.
    let flat = dir.file("flat.mrc")
    try MRCFile.write(MRCMap(nx: 48, ny: 48, nz: 48, pixelSize: 1.0, data: [Float](repeating: 1, count: 48 * 48 * 48)),
                      to: flat, policy: OutputPolicy())
    let constant = try runAngpix(["calibrate", "map", map, flat])
    #expect(constant.status == 1)
    #expect(constant.stderr.contains(flat), "\(constant.stderr)")
}
