// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The repository stands alone and stays readable: what a newcomer's clone relies on is checked
// here, so that it cannot quietly regress (nothing outside the clone is read, every source file
// carries the licence line, the README stays short, no unsafe build flags).

import Foundation
import Testing
import AngpixTestSupport

/// The files git tracks, relative to the package root.
private func trackedFiles() throws -> [String] {
    let r = try runProcess("/usr/bin/env", ["git", "-C", packageRoot.path, "ls-files"])
    try #require(r.status == 0, "git ls-files failed: \(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init)
}

@Suite struct RepositoryTests {
    @Test func noTrackedFileReadsOutsideTheClone() throws {
        let files = try trackedFiles().filter { !$0.hasPrefix("Tests/Fixtures/") }
        // Built from pieces so that this file does not match itself.
        let forbidden = ["../" + "shared", "/" + "work/", "/" + "root/", "/" + "home/"]
        var offenders: [String] = []
        for file in files {
            guard let text = try? String(contentsOfFile: packageRoot.appendingPathComponent(file).path, encoding: .utf8) else { continue }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where forbidden.contains(where: { line.contains($0) }) {
                offenders.append("\(file):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(offenders.isEmpty, "paths outside the repository:\n\(offenders.joined(separator: "\n"))")
    }

    /// ArgumentParser wraps each line of a command's discussion to the terminal on its own, so a
    /// paragraph written as several source lines breaks mid-sentence in an 80-column terminal.
    /// Prose is therefore one logical line per paragraph (source lines joined with a trailing `\`),
    /// and the lines kept as they are (examples, formulas) fit in 78 columns, examples excepted.
    @Test func helpParagraphsWrapCleanlyIn80Columns() throws {
        let sources = try trackedFiles().filter { $0.hasPrefix("Sources/angpix/") && $0.hasSuffix(".swift") }
        var offenders: [String] = []
        for file in sources {
            let text = try String(contentsOfFile: packageRoot.appendingPathComponent(file).path, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var i = 0
            while i < lines.count {
                defer { i += 1 }
                guard lines[i].hasSuffix("discussion: \"\"\"") else { continue }
                var end = i + 1
                while end < lines.count, !lines[end].trimmingCharacters(in: .whitespaces).hasPrefix("\"\"\"") { end += 1 }
                guard end < lines.count else { break }
                let indent = lines[end].prefix { $0 == " " }.count
                let body = lines[(i + 1)..<end].map { String($0.dropFirst(min(indent, $0.prefix { $0 == " " }.count))) }
                func isProse(_ t: String) -> Bool {
                    !t.isEmpty && !t.hasPrefix(" ") && !t.hasPrefix("Example") && !t.hasPrefix("- ")
                }
                for (k, t) in body.enumerated() {
                    let continued = t.hasSuffix("\\")
                    let joined = k > 0 && body[k - 1].hasSuffix("\\")
                    if isProse(t), k + 1 < body.count, isProse(body[k + 1]), !continued {
                        offenders.append("\(file):\(i + k + 2): a paragraph line without a trailing \\")
                    }
                    if !continued, !joined, t.count > 78, !t.hasPrefix("  angpix ") {
                        offenders.append("\(file):\(i + k + 2): \(t.count) columns")
                    }
                }
                i = end
            }
        }
        #expect(offenders.isEmpty, "help text that breaks mid-sentence in 80 columns:\n\(offenders.joined(separator: "\n"))")
    }

    @Test func everySwiftSourceStartsWithTheLicenceLine() throws {
        let sources = try trackedFiles().filter { $0.hasSuffix(".swift") }
        #expect(sources.count > 100)
        let missing = sources.filter { file in
            let text = (try? String(contentsOfFile: packageRoot.appendingPathComponent(file).path, encoding: .utf8)) ?? ""
            let first = text.prefix { $0 != "\n" }
            // Package manifests must start with their tools-version line; theirs is the second.
            let line = first.hasPrefix("// swift-tools-version") ? text.split(separator: "\n").dropFirst().first.map(String.init) ?? "" : String(first)
            return !line.hasPrefix("// SPDX-License-Identifier: Apache-2.0")
        }
        #expect(missing.isEmpty, "no licence line: \(missing.joined(separator: ", "))")
        #expect(FileManager.default.fileExists(atPath: packageRoot.appendingPathComponent("LICENSE").path))
    }

    @Test func readmeIsShortAndShowsTheTwoSetUpCommands() throws {
        let readme = try String(contentsOfFile: packageRoot.appendingPathComponent("README.md").path, encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(lines <= 150, "README.md has \(lines) lines")
        #expect(readme.contains("swift run -c release angpix demo"))
        #expect(readme.contains("swift test -c release"))
    }

    @Test func manifestsHaveNoUnsafeFlagsInTheLibrary() throws {
        let manifest = try String(contentsOfFile: packageRoot.appendingPathComponent("Package.swift").path, encoding: .utf8)
        #expect(!manifest.contains("unsafe" + "Flags"), "SwiftPM refuses unsafe flags in a dependency")
        #expect(!manifest.contains("angpix-bench"), "the benchmarks are a separate package (Benchmarks/)")
    }
}
