// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Helpers shared by the test targets: temporary folders, the built angpix binary, RELION's tools,
// and the small real data in Tests/Fixtures.

import Foundation
import AngpixCore

/// A fresh temporary folder, removed when the object goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String
    public let url: URL

    public init(_ label: String = "angpix-test") {
        let base = FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// The path of `name` inside the folder.
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let p = file(name)
        try! FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try! text.write(toFile: p, atomically: false, encoding: .utf8)
        return p
    }

    /// The names of the files in the folder (hidden ones too), sorted.
    public func listing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The package's root folder (the one holding Package.swift).
public let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()

/// A missing test fixture: the repository's `Tests/Fixtures` folder is incomplete.
public struct MissingFixture: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "\(path): test fixture missing (it is part of the repository)" }
}

/// The path of a file of `Tests/Fixtures/` (small real wwPDB entries, public domain); throws if it
/// is missing, so a test that needs it fails instead of passing silently.
public func fixture(_ name: String) throws -> String {
    let p = packageRoot.appendingPathComponent("Tests/Fixtures/\(name)").path
    guard FileManager.default.fileExists(atPath: p) else { throw MissingFixture(path: p) }
    return p
}

/// The result of running a program.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` with `arguments`, waiting for it to end.
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], cwd: String? = nil,
                       environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if let environment { process.environment = environment }
    let outPipe = Pipe(), errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so that neither can fill up and block the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// The angpix binary built beside the tests (same configuration folder).
public let angpixExecutable: String = {
    // The test bundle lives in .build/<triple>/<config>/; the executable sits beside it.
    let candidates = [
        Bundle.main.bundleURL.appendingPathComponent("angpix").path,
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("angpix").path,
        packageRoot.appendingPathComponent(".build/debug/angpix").path,
    ]
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    return candidates.last!
}()

/// Runs `angpix ARGUMENTS` and returns its status and output.
@discardableResult
public func runAngpix(_ arguments: [String], cwd: String? = nil) throws -> ProcessResult {
    try runProcess(angpixExecutable, arguments, cwd: cwd)
}

/// RELION's command-line tools, where installed (CI installs RELION 3.1.3).
public enum Relion {
    /// The full path of a RELION program, or nil if it is not installed.
    public static func path(_ tool: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/local/bin")
            .split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/lib/relion/bin"]
        for d in dirs {
            let p = (d as NSString).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Whether `tool` is installed.
    public static func has(_ tool: String) -> Bool { path(tool) != nil }

    /// The message shown when a RELION comparison test is skipped.
    public static func missing(_ tool: String) -> String {
        "\(tool) is not installed (apt-get install -y relion); RELION comparison skipped"
    }
}

/// One row of a generated data_optics table.
public struct TestOpticsGroup: Sendable {
    public var number: Int
    public var name: String
    public var pixelSize: String
    public var originalPixelSize: String
    public var box: Int

    public init(number: Int = 1, name: String, pixelSize: String, originalPixelSize: String? = nil, box: Int) {
        self.number = number
        self.name = name
        self.pixelSize = pixelSize
        self.originalPixelSize = originalPixelSize ?? pixelSize
        self.box = box
    }
}

/// A RELION 3.1 `data_optics` block as RELION writes it (Q0 0.1, Cs 2.7 mm, 300 kV, 2D images),
/// preceded by the `# version 30001` line and followed by a blank line.
public func relionOpticsBlock(_ groups: [TestOpticsGroup]) -> String {
    var text = "\n# version 30001\n\ndata_optics\n\nloop_ \n"
    let labels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
                  "rlnImagePixelSize", "rlnMicrographOriginalPixelSize", "rlnImageSize", "rlnImageDimensionality"]
    for (i, label) in labels.enumerated() { text += "_\(label) #\(i + 1) \n" }
    for g in groups {
        text += "           \(g.number)  \(g.name)     0.100000     2.700000   300.000000     \(g.pixelSize)     \(g.originalPixelSize)          \(g.box)            2\n"
    }
    return text + "\n"
}

/// Prints a figure measured by a comparison test (`measured: <what> = <value>`), so a run of the
/// RELION comparisons shows how close the agreement is, not only that it is within tolerance:
/// `swift test -c release --filter Relion 2>&1 | grep measured:`.
public func printMeasured(_ what: String, _ value: Double) {
    print("measured: \(what) = \(String(format: "%.3e", value))")
}
