// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The documentation's command lines against the built angpix binary, so that the docs cannot
// drift from the commands:
// - every `angpix …` command line in README.md and docs/*.md (code blocks and inline code) names
//   an existing subcommand, and every option it uses appears in that subcommand's --help;
// - the README's tour of the commands runs, on the files that `angpix demo` writes;
// - docs/cli.md is what docs/generate-cli.sh prints for the current binary.

import Foundation
import Testing
import AngpixTestSupport

/// One `angpix …` command line found in a Markdown file.
struct DocCommand: CustomStringConvertible, Sendable {
    var file: String
    var line: Int
    /// The words after `angpix`, up to the end of the shell command (`&&`, `||`, `;`, `#`).
    var words: [String]
    /// Whether it comes from a fenced code block (otherwise from inline code in the text).
    var inCodeBlock: Bool
    var description: String { "\(file):\(line): angpix \(words.joined(separator: " "))" }
}

/// The Markdown files whose commands are checked: README.md and docs/*.md except the generated
/// docs/cli.md (which is checked against the binary as a whole).
func documentationFiles() throws -> [URL] {
    let docs = packageRoot.appendingPathComponent("docs")
    let pages = try FileManager.default.contentsOfDirectory(atPath: docs.path)
        .filter { $0.hasSuffix(".md") && $0 != "cli.md" }.sorted()
        .map { docs.appendingPathComponent($0) }
    return [packageRoot.appendingPathComponent("README.md")] + pages
}

/// Where `angpix` starts a command in a piece of shell text: the word angpix (also at the end of a
/// path such as `.build/release/angpix`), followed by a space.
private let angpixWord = try! NSRegularExpression(pattern: #"(?<![\w.-])angpix(?= )"#)

/// The `angpix …` commands of one piece of shell text (a logical line of a code block, or an
/// inline code span).
func commands(in text: String) -> [[String]] {
    let ns = text as NSString
    return angpixWord.matches(in: text, range: NSRange(location: 0, length: ns.length)).compactMap { m in
        let rest = ns.substring(from: m.range.location + m.range.length)
        var words: [String] = []
        for word in rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
            if ["&&", "||", ";", ":::"].contains(word) || word.hasPrefix("#") { break }
            words.append(word)
        }
        // `-t angpix .` (an image name) and the like are not commands: a command goes on with a
        // word or an option.
        guard let first = words.first, first.first.map({ $0.isLetter || $0 == "-" }) == true else { return nil }
        return words
    }
}

/// Every `angpix …` command of a Markdown text.
func commands(inMarkdown text: String, file: String) -> [DocCommand] {
    var found: [DocCommand] = []
    var inBlock = false
    var pending = "", pendingLine = 0
    for (index, line) in text.components(separatedBy: "\n").enumerated() {
        let number = index + 1
        if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
            inBlock.toggle()
            pending = ""
            continue
        }
        if inBlock {
            // Join lines continued with a backslash.
            if pending.isEmpty { pendingLine = number }
            if line.hasSuffix("\\") { pending += String(line.dropLast()) + " "; continue }
            let logical = pending + line
            pending = ""
            for words in commands(in: logical) {
                found.append(DocCommand(file: file, line: pendingLine, words: words, inCodeBlock: true))
            }
        } else {
            // Inline code spans: the text between pairs of backticks.
            let parts = line.components(separatedBy: "`")
            for i in stride(from: 1, to: parts.count, by: 2) {
                for words in commands(in: parts[i]) {
                    found.append(DocCommand(file: file, line: number, words: words, inCodeBlock: false))
                }
            }
        }
    }
    return found
}

/// The --help text of angpix commands, read once each.
final class HelpCache: @unchecked Sendable {
    private var texts: [[String]: String] = [:]
    private let lock = NSLock()

    func help(_ path: [String]) throws -> String {
        if let t = lock.withLock({ texts[path] }) { return t }
        let r = try runProcess(angpixExecutable, path + ["--help"], environment: helpEnvironment)
        let text = r.stdout + r.stderr
        lock.withLock { texts[path] = text }
        return text
    }

    /// The subcommands listed in the help of `path`, and which one is the default.
    func subcommands(_ path: [String]) throws -> (names: [String], defaultName: String?) {
        var names: [String] = [], defaultName: String?
        var inSection = false
        for line in try help(path).components(separatedBy: "\n") {
            if line.hasPrefix("SUBCOMMANDS:") { inSection = true; continue }
            guard inSection else { continue }
            if let c = line.first, c != " " { inSection = false; continue }
            // "  name (default)   abstract": exactly two spaces, then the name.
            guard line.hasPrefix("  "), line.dropFirst(2).first?.isLetter == true else { continue }
            let fields = line.split(separator: " ")
            guard let name = fields.first.map(String.init), name.first?.isLowercase == true else { continue }
            names.append(name)
            if fields.count > 1, fields[1] == "(default)" { defaultName = name }
        }
        return (names, defaultName)
    }
}

/// The environment for --help: a fixed width, so the text does not depend on the terminal.
let helpEnvironment: [String: String] = {
    var env = ProcessInfo.processInfo.environment
    env["COLUMNS"] = "100"
    return env
}()

private let longOption = try! NSRegularExpression(pattern: #"(?<![\w-])--[a-z][a-z0-9-]*"#)
private let shortOption = try! NSRegularExpression(pattern: #"(?<![\w-])-[a-zA-Z](?![\w-])"#)

/// The options a command line uses (`--name` and `-x`, also inside `[...]`).
func options(of words: [String]) -> [String] {
    let text = words.joined(separator: " ")
    let ns = text as NSString
    let all = NSRange(location: 0, length: ns.length)
    return (longOption.matches(in: text, range: all) + shortOption.matches(in: text, range: all))
        .sorted { $0.range.location < $1.range.location }
        .map { ns.substring(with: $0.range) }
}

/// Whether `option` is listed in a help text (followed by a space, a comma, `=` or `<`).
func helpLists(_ help: String, option: String) -> Bool {
    let pattern = "(?<![\\w-])" + NSRegularExpression.escapedPattern(for: option) + "(?![\\w-])"
    return help.range(of: pattern, options: .regularExpression) != nil
}

/// The problems of one documented command: an unknown subcommand, or options its help lacks.
func problems(of command: DocCommand, helps: HelpCache) throws -> [String] {
    var path: [String] = []
    var words = command.words[...]
    while let w = words.first, try helps.subcommands(path).names.contains(w) {
        path.append(w)
        words = words.dropFirst()
    }
    let sub = try helps.subcommands(path)
    let name = (["angpix"] + path).joined(separator: " ")
    if let w = words.first, !sub.names.isEmpty, sub.defaultName == nil, !w.hasPrefix("-") {
        return ["\(command): `\(w)` is not a subcommand of `\(name)` (\(sub.names.joined(separator: ", ")))"]
    }
    if path.isEmpty, let w = words.first, !w.hasPrefix("-") {
        return ["\(command): `\(w)` is not an angpix command"]
    }
    // A command with a default subcommand takes that subcommand's options too.
    var texts = [try helps.help(path)]
    if let d = sub.defaultName { texts.append(try helps.help(path + [d])) }
    return options(of: Array(words)).filter { option in !texts.contains { helpLists($0, option: option) } }
        .map { "\(command): `\(name)` has no option \($0)" }
}

@Suite struct DocsExamplesTests {
    /// All documented commands (the test of the extraction itself checks a few known ones).
    static func allCommands() throws -> [DocCommand] {
        try documentationFiles().flatMap { url in
            commands(inMarkdown: try String(contentsOf: url, encoding: .utf8),
                     file: url.path.replacingOccurrences(of: packageRoot.path + "/", with: ""))
        }
    }

    @Test func theExtractionFindsCommands() throws {
        let sample = """
            Run `angpix star info FILE [--json]` or:

            ```sh
            swift run -c release angpix demo     # the walk-through
            angpix particles rescale in.star --angpix 1.25 \\
                --box 200 -o Rescaled && angpix particles rescale --merge Rescaled
            docker build -f packaging/Dockerfile -t angpix .
            .build/release/angpix --version
            ```
            """
        let found = commands(inMarkdown: sample, file: "sample.md").map { $0.words.joined(separator: " ") }
        #expect(found == ["star info FILE [--json]", "demo",
                          "particles rescale in.star --angpix 1.25 --box 200 -o Rescaled",
                          "particles rescale --merge Rescaled", "--version"])
        #expect(options(of: ["rescale", "x.star", "[--angpix", "X]", "-o", "OUT", "--shard", "I/N"])
                == ["--angpix", "-o", "--shard"])
        let all = try Self.allCommands()
        #expect(all.count >= 40, "only \(all.count) commands found in the docs")
        let families = Set(all.compactMap(\.words.first))
        for family in ["demo", "star", "map", "ctf", "optics", "calibrate", "postprocess", "model",
                       "particles", "check", "report"] {
            #expect(families.contains(family), "no example of angpix \(family) in the docs")
        }
    }

    @Test func everyDocumentedCommandAndOptionExists() throws {
        let helps = HelpCache()
        let root = try helps.help([])
        #expect(root.contains("SUBCOMMANDS:"), "angpix --help: \(root)")
        var all: [String] = []
        for command in try Self.allCommands() { all += try problems(of: command, helps: helps) }
        #expect(all.isEmpty, "\(all.count) documented command lines do not match the binary:\n\(all.joined(separator: "\n"))")
    }

    @Test func theCheckCatchesAWrongOptionOrCommand() throws {
        let helps = HelpCache()
        let wrongOption = DocCommand(file: "x.md", line: 1, words: ["star", "join", "a.star", "--no-such-option"], inCodeBlock: true)
        #expect(try problems(of: wrongOption, helps: helps).count == 1)
        let wrongCommand = DocCommand(file: "x.md", line: 2, words: ["star", "merge", "a.star"], inCodeBlock: true)
        #expect(try problems(of: wrongCommand, helps: helps).count == 1)
        let defaultSubcommand = DocCommand(file: "x.md", line: 3, words: ["postprocess", "h1.mrc", "h2.mrc", "--mask", "m.mrc", "-o", "out"], inCodeBlock: true)
        #expect(try problems(of: defaultSubcommand, helps: helps).isEmpty)
    }

    /// The README's tour runs every example in the project that `angpix demo` writes, as it says.
    @Test func theReadmeTourRunsOnTheDemoProject() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("## A tour of the commands") }) + 1
        let end = try #require(lines[start...].firstIndex { $0.hasPrefix("## ") }) + 1
        let tour = commands(inMarkdown: readme, file: "README.md")
            .filter { $0.inCodeBlock && $0.line > start && $0.line < end }
        #expect(tour.count >= 12, "only \(tour.count) examples in the README's tour")

        let dir = TemporaryDirectory("angpix-readme-tour")
        let demo = try runAngpix(["demo", "--out", dir.file("angpix-demo")])
        try #require(demo.status == 0, "angpix demo: \(demo.stderr)")
        let project = dir.file("angpix-demo/project")
        for example in tour {
            let r = try runAngpix(example.words, cwd: project)
            #expect(r.status == 0, "\(example) exited with \(r.status):\n\(r.stderr)")
        }
    }

    /// The example section of docs/report.md gives the section that the page describes.
    @Test func theReportFormatExampleRenders() throws {
        let page = try String(contentsOf: packageRoot.appendingPathComponent("docs/report.md"), encoding: .utf8)
        let start = try #require(page.range(of: "```json\n"))
        let end = try #require(page.range(of: "\n```", range: start.upperBound..<page.endIndex))
        let json = String(page[start.upperBound..<end.lowerBound])
        let dir = TemporaryDirectory("angpix-report-example")
        dir.write("results/01-calibration.json", json)
        dir.write("results/01-calibration.svg",
                  #"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>score curve</text></svg>"#)
        let r = try runAngpix(["report", dir.file("results")])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: dir.file("results/report.html"), encoding: .utf8)
        for expected in ["Pixel size of the map", "Calibrated against the model.", "Pixel size", "0.981",
                         "The model was refined against another map.", "score curve"] {
            #expect(html.contains(expected), "report.html lacks \(expected)")
        }
    }

    /// Every relative link of README.md and docs/*.md points to a file that exists and, with
    /// `#anchor`, to a heading (as GitHub names it) or an `<a id>` of that file.
    @Test func everyLinkOfTheDocsResolves() throws {
        let files = try documentationFiles() + [packageRoot.appendingPathComponent("docs/cli.md")]
        let link = try NSRegularExpression(pattern: #"\]\(([^)\s]+)\)"#)
        var broken: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let ns = text as NSString
            for m in link.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                let target = ns.substring(with: m.range(at: 1))
                if target.hasPrefix("http://") || target.hasPrefix("https://") { continue }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let url = parts[0].isEmpty ? file
                    : file.deletingLastPathComponent().appendingPathComponent(parts[0]).standardizedFileURL
                let name = file.lastPathComponent
                guard FileManager.default.fileExists(atPath: url.path) else { broken.append("\(name): \(target): no such file"); continue }
                if parts.count == 2, url.pathExtension == "md" {
                    let anchors = markdownAnchors(try String(contentsOf: url, encoding: .utf8))
                    if !anchors.contains(parts[1]) { broken.append("\(name): \(target): no such heading") }
                }
            }
        }
        #expect(broken.isEmpty, "broken links:\n\(broken.joined(separator: "\n"))")
    }

    /// docs/cli.md is exactly what docs/generate-cli.sh prints for this binary.
    @Test func cliReferenceIsCurrent() throws {
        let script = packageRoot.appendingPathComponent("docs/generate-cli.sh").path
        let r = try runProcess("/bin/bash", [script, angpixExecutable], environment: helpEnvironment)
        #expect(r.status == 0, "\(r.stderr)")
        let current = try String(contentsOf: packageRoot.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        #expect(r.stdout.contains("## angpix star join"))
        #expect(current == r.stdout,
                "docs/cli.md is out of date: run `bash docs/generate-cli.sh .build/release/angpix > docs/cli.md`")
    }
}

/// The anchors of a Markdown text: `<a id="…">` and its headings as GitHub names them (lower
/// case, punctuation other than `-` and `_` dropped, spaces as `-`). Headings in code blocks are
/// not headings.
func markdownAnchors(_ text: String) -> Set<String> {
    var anchors = Set<String>()
    var inBlock = false
    for line in text.components(separatedBy: "\n") {
        if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inBlock.toggle(); continue }
        if inBlock { continue }
        if let r = line.range(of: #"<a id="[^"]+">"#, options: .regularExpression) {
            anchors.insert(String(line[r].dropFirst(7).dropLast(2)))
        }
        guard line.hasPrefix("#") else { continue }
        let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
        let kept = title.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "-_ ".unicodeScalars.contains($0) }
        anchors.insert(String(String.UnicodeScalarView(kept)).replacingOccurrences(of: " ", with: "-"))
    }
    return anchors
}
