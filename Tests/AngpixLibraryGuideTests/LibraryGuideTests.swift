// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The code of docs/library.md, compiled and run. This target depends only on modules of the
// AngpixKit product and imports them without @testable, so it shows that the public API is enough
// for a package that depends on angpix. Every ```swift block of docs/library.md must appear in
// this file character for character (checked below), so the guide cannot drift from the code.

import Foundation
import Testing

// MARK: - The guide's code (copied verbatim into docs/library.md)

/// The manifest of a package that uses angpix (docs/library.md, first block).
let guideManifest = """
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "my-tool",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://example.com/angpix.git", from: "0.1.0"),
    ],
    targets: [
        .executableTarget(name: "my-tool", dependencies: [
            .product(name: "AngpixKit", package: "angpix"),
        ]),
    ]
)
"""

import AngpixCore      // OutputPolicy: how an output file may be written
import AngpixSTAR      // STAR files, RELION's optics groups and particles
import AngpixMRC       // MRC maps and stacks
import AngpixFourier   // Fourier rescaling as RELION does it
import AngpixOptics    // the CTF and the electron wavelength

/// Each optics group of a RELION 3.1+ particle file with its number of particles.
func opticsGroupsAndCounts(starPath: String) throws -> [(group: OpticsGroup, particles: Int)] {
    let file = try RelionParticleFile(document: STARDocument(path: starPath))
    var counts = [Int](repeating: 0, count: file.optics.groups.count)
    for index in try file.opticsGroupIndices() { counts[index] += 1 }
    return zip(file.optics.groups, counts).map { (group: $0, particles: $1) }
}

/// The mean defocus ((U + V) / 2, in Å) of each optics group. Only the three columns needed are
/// converted, and their types are fixed (a defocus written as `12000` is still a Double).
func meanDefocusByGroup(starPath: String) throws -> [Int: Double] {
    let star = try STARTypedFile(path: starPath,
                                 types: ["rlnDefocusU": .double, "rlnDefocusV": .double, "rlnOpticsGroup": .int],
                                 only: ["rlnDefocusU", "rlnDefocusV", "rlnOpticsGroup"])
    guard let particles = star.table("particles"),
          let u = particles.columns.doubles["rlnDefocusU"],
          let v = particles.columns.doubles["rlnDefocusV"],
          let group = particles.columns.ints["rlnOpticsGroup"] else { return [:] }
    var sums: [Int: (total: Double, count: Int)] = [:]
    for row in 0..<particles.rowCount {
        let s = sums[group[row], default: (0, 0)]
        sums[group[row]] = (s.total + (u[row] + v[row]) / 2, s.count + 1)
    }
    return sums.mapValues { $0.total / Double($0.count) }
}

/// Rescales a cubic map to `newPixelSize` Å as `relion_image_handler --rescale_angpix` does and
/// writes it; returns the new box and the pixel size reached (which goes into the header).
func rescaleMap(from input: String, to output: String, newPixelSize: Double) throws -> (box: Int, pixelSize: Double) {
    let map = try MRCFile.readMap(path: input)
    let plan = try RescalePlan(shape: [map.nz, map.ny, map.nx], pixelSize: map.pixelSize,
                               newPixelSize: newPixelSize, box: nil)
    let data = try Rescaler(plan: plan).apply(map.data)
    let n = plan.outputShape[0]
    let rescaled = MRCMap(nx: n, ny: n, nz: n, pixelSize: plan.outputPixelSize, data: data)
    try MRCFile.write(rescaled, to: output, policy: OutputPolicy(inputs: [input]))
    return (n, plan.outputPixelSize)
}

/// The CTF of one particle along the x axis at the given spatial frequencies (1/Å), with the
/// optics of its group (voltage, Cs, amplitude contrast, Zernike terms, magnification).
func ctfProfile(starPath: String, particle row: Int, frequencies: [Double]) throws -> [Double] {
    let file = try RelionParticleFile(document: STARDocument(path: starPath))
    let group = file.optics.groups[try file.opticsGroupIndices()[row]]
    let particles = file.particles
    let parameters = CTFParameters(group: group,
                                   defocusU: try particles.double(row: row, "rlnDefocusU") ?? 0,
                                   defocusV: try particles.double(row: row, "rlnDefocusV") ?? 0,
                                   defocusAngle: try particles.double(row: row, "rlnDefocusAngle") ?? 0)
    return try CTF(parameters).profile(frequencies: frequencies)
}

// MARK: - Running the guide on small inputs

/// Two optics groups (Dataset1 at 1.0 Å/px, box 140; Dataset2 at 1.1 Å/px, box 128) and three
/// particles, as RELION 3.1 writes them (the second particle's defocus written as integers).
private let particlesSTAR = """

# version 30001

data_optics

loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnMicrographOriginalPixelSize #3
_rlnVoltage #4
_rlnSphericalAberration #5
_rlnAmplitudeContrast #6
_rlnImagePixelSize #7
_rlnImageSize #8
_rlnImageDimensionality #9
opticsGroup1            1     1.000000   300.000000     2.700000     0.100000     1.000000          140            2
opticsGroup2            2     1.100000   300.000000     2.700000     0.100000     1.100000          128            2


# version 30001

data_particles

loop_
_rlnImageName #1
_rlnDefocusU #2
_rlnDefocusV #3
_rlnDefocusAngle #4
_rlnOpticsGroup #5
000001@Extract/job007/Movies/a.mrcs  10000.000000  9800.000000    30.000000            1
000002@Extract/job007/Movies/a.mrcs  12000         12000            0                   1
000001@Extract/job008/Movies/b.mrcs  20000.000000 19000.000000    45.000000            2

"""

/// A folder under the system's temporary folder, removed at the end of the test.
private final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("angpix-guide-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The repository's root (this file is Tests/AngpixLibraryGuideTests/LibraryGuideTests.swift).
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct LibraryGuideTests {
    @Test func opticsGroupsAndTheirParticles() throws {
        let dir = try Scratch()
        let star = dir.path("particles.star")
        try particlesSTAR.write(toFile: star, atomically: false, encoding: .utf8)

        let groups = try opticsGroupsAndCounts(starPath: star)
        #expect(groups.map(\.group.number) == [1, 2])
        #expect(groups.map(\.group.name) == ["opticsGroup1", "opticsGroup2"])
        #expect(groups.map(\.group.imagePixelSize) == [1.0, 1.1])
        #expect(groups.map(\.group.imageSize) == [140, 128])
        #expect(groups.map(\.group.voltage) == [300, 300])
        #expect(groups.map(\.particles) == [2, 1])

        let defocus = try meanDefocusByGroup(starPath: star)
        #expect(defocus.count == 2)
        #expect(abs(defocus[1]! - 10950) < 1e-9)   // ((10000 + 9800) / 2 + 12000) / 2
        #expect(abs(defocus[2]! - 19500) < 1e-9)
    }

    @Test func rescalingAMap() throws {
        let dir = try Scratch()
        let input = dir.path("map.mrc"), output = dir.path("map_1.7.mrc")
        // A Gaussian blob in a 32³ box at 1.5 Å/px.
        var map = MRCMap(nx: 32, ny: 32, nz: 32, pixelSize: 1.5)
        for z in 0..<32 { for y in 0..<32 { for x in 0..<32 {
            let r2 = Double((x - 16) * (x - 16) + (y - 16) * (y - 16) + (z - 16) * (z - 16))
            map[x, y, z] = Float(exp(-r2 / 18))
        } } }
        try MRCFile.write(map, to: input, policy: OutputPolicy())

        let result = try rescaleMap(from: input, to: output, newPixelSize: 1.7)
        // ROUND(32 × 1.5 / 1.7) = 28 (even), and 32 × 1.5 / 28 = 1.714… Å is the pixel size reached.
        #expect(result.box == 28)
        #expect(abs(result.pixelSize - 48.0 / 28.0) < 1e-12)
        let header = try MRCFile.readHeader(path: output)
        #expect(header.nx == 28 && header.ny == 28 && header.nz == 28)
        #expect(abs(header.pixelSize - 48.0 / 28.0) < 1e-5)
        // The Fourier rescaling keeps the mean: the blob's integral stays the same.
        let rescaled = try MRCFile.readMap(path: output)
        let before = map.data.reduce(0.0) { $0 + Double($1) } * pow(1.5, 3)
        let after = rescaled.data.reduce(0.0) { $0 + Double($1) } * pow(48.0 / 28.0, 3)
        #expect(abs(after - before) / before < 1e-4)
        // Writing over the input is refused.
        #expect(throws: (any Error).self) { try rescaleMap(from: input, to: input, newPixelSize: 1.7) }
    }

    @Test func evaluatingACTF() throws {
        let dir = try Scratch()
        let star = dir.path("particles.star")
        try particlesSTAR.write(toFile: star, atomically: false, encoding: .utf8)

        // The third particle (group 2): defocus 20000 / 19000 Å at 45°, so 19500 Å along x.
        let k = [0.0, 0.05, 0.1, 0.2, 0.3]
        let ctf = try ctfProfile(starPath: star, particle: 2, frequencies: k)
        let lambda = electronWavelength(kilovolts: 300)
        let q0 = 0.1, cs = 2.7e7, defocus = 19500.0
        for (i, s) in k.enumerated() {
            let gamma = -Double.pi * lambda * defocus * s * s + Double.pi / 2 * cs * pow(lambda, 3) * pow(s, 4)
                - atan(q0 / (1 - q0 * q0).squareRoot())
            #expect(abs(ctf[i] - (-sin(gamma))) < 1e-9, "k = \(s)")
        }
        #expect(abs(ctf[0] - 0.1) < 1e-12)   // at k = 0 the CTF is the amplitude contrast
    }

    /// Every ```swift block of docs/library.md appears verbatim in this file.
    @Test func everySwiftBlockOfTheGuideIsInThisFile() throws {
        let guide = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/library.md"), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        var blocks: [String] = []
        var current: [String]? = nil
        for line in guide.components(separatedBy: "\n") {
            if current == nil {
                if line.trimmingCharacters(in: .whitespaces) == "```swift" { current = [] }
            } else if line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current!.append(line)
            }
        }
        #expect(current == nil, "docs/library.md: a ```swift block is not closed")
        #expect(blocks.count >= 5, "docs/library.md has \(blocks.count) swift blocks")
        for (i, block) in blocks.enumerated() {
            #expect(source.contains(block), "docs/library.md, swift block \(i + 1) is not in LibraryGuideTests.swift:\n\(block)")
        }
    }

    /// The manifest of the guide names the product and the package as Package.swift declares them,
    /// and every module the guide imports is part of that product.
    @Test func theGuideManifestMatchesPackageSwift() throws {
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(manifest.contains("name: \"angpix\""))
        #expect(guideManifest.contains(".product(name: \"AngpixKit\", package: \"angpix\")"))
        let library = try #require(manifest.range(of: ".library(name: \"AngpixKit\""))
        let productTargets = manifest[library.upperBound...].prefix { $0 != "]" }
        for module in ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics"] {
            #expect(productTargets.contains("\"\(module)\""), "\(module) is not in the AngpixKit product")
        }
    }
}
