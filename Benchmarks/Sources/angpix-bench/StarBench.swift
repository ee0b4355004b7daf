// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix-bench star`: the STAR engine on a 1,000,000-particle RELION 3.1 file of 26 columns
// (about 400 MB, made by ParticleStarGenerator with a fixed seed into ./bench-data if absent). Each angpix
// stage runs in a child process of this program so that its peak memory (ru_maxrss) is its own;
// the installed anchors (relion_star_handler, Python starfile, gemmi, starfile-rs) run under
// /usr/bin/time -v. Prints seconds, MB/s of input, peak memory and the ratio to each anchor.
// Stages: tokenize (the lossless STARDocument), parse-typed (STARTypedFile: every column typed, in
// one pass), parse-3-columns (STARTypedFile reading two defocus columns and the optics group),
// document+columns (STARDocument, then every column typed by block.columns),
// parse-typed+strings (the same with a String per text value), read+write, read+modify+write, join.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixSTAR

struct StarBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "star",
        abstract: "Parse, write and join a 1M-particle STAR file; compare with RELION, starfile, gemmi, starfile-rs.",
        discussion: "Example: swift run -c release angpix-bench star --particles 1000000"
    )

    @Option(help: "Number of particles in the generated file.") var particles = 1_000_000
    @Option(help: "Folder for generated inputs and outputs.") var data = "bench-data"
    @Flag(help: "Skip the anchors (RELION, Python tools).") var noAnchors = false
    @Option(help: "Runs of each angpix stage (the best is reported, with the median).") var runs = 3
    @Option(help: "Runs of each anchor (the best is reported).") var anchorRuns = 1
    @Option(help: "Run one stage in this process (used internally).") var stage: String?
    @Option(help: "Input of the stage (used internally).") var input: String?

    func run() throws {
        if let stage, let input { try runStage(stage, input); return }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let file = "\(data)/bench-\(particles).star"
        if !FileManager.default.fileExists(atPath: file) {
            print("generating \(file) (\(particles) particles, seed 1) ...")
            let start = Date()
            try ParticleStarGenerator(particles: particles).write(to: file)
            print(String(format: "  written in %.1f s", Date().timeIntervalSince(start)))
        }
        let size = Double((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0)
        let mb = size / 1e6
        print(String(format: "input: %@ (%.0f MB, %d particles, 26 columns), %d threads", file, mb, particles, Parallelism.jobs))
        let me = CommandLine.arguments[0]
        var results: [(name: String, seconds: Double, peakMB: Double)] = []
        // Each stage runs `runs` times in fresh processes; the best time is reported (and the
        // median): on a virtual machine the first touch of fresh memory costs very different
        // amounts from run to run.
        func stageRun(_ name: String) throws {
            var times: [Double] = [], peak = 0.0
            for _ in 0..<max(1, runs) {
                let r = try runTimed([me, "star", "--stage", name, "--input", file, "--data", data])
                guard r.status == 0 else { print("  \(name) failed: \(r.stderr)"); return }
                // The child prints "seconds peakMB" on its last line.
                let parts = r.stdout.split(whereSeparator: \.isWhitespace).suffix(2).compactMap { Double($0) }
                guard parts.count == 2 else { print("  \(name): unexpected output \(r.stdout)"); return }
                times.append(parts[0])
                peak = max(peak, parts[1])
            }
            let best = times.min()!, median = times.sorted()[times.count / 2]
            results.append((name, best, peak))
            print(String(format: "angpix %@ %7.3f s  %7.0f MB/s  peak %6.0f MB (%.2f× file)  median of %d %.3f s",
                         pad(name, 30) as NSString, best, mb / best, peak, peak / mb, times.count, median))
        }
        for s in ["tokenize", "parse-typed", "parse-3-columns", "document+columns", "parse-typed+strings", "read+write", "read+write+fsync",
                  "read+modify+write", "join"] { try stageRun(s) }
        guard !noAnchors else { return }
        var anchors: [(name: String, seconds: Double, peakMB: Double)] = []
        func anchor(_ name: String, _ command: [String]) throws {
            var best = Double.infinity, peakKB = 0.0
            for _ in 0..<max(1, anchorRuns) {
                let r = try runTimed(["/usr/bin/time", "-v"] + command)
                guard r.status == 0 else {
                    print("anchor \(name): not available (\(r.stderr.split(separator: "\n").first { $0.contains("Error") || $0.contains("No module") } ?? "failed"))")
                    return
                }
                peakKB = max(peakKB, r.stderr.split(separator: "\n").first { $0.contains("Maximum resident set size") }
                    .flatMap { Double($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) } ?? 0)
                best = min(best, r.seconds)
            }
            anchors.append((name, best, peakKB / 1024))
            print(String(format: "anchor %@ %7.3f s  %7.0f MB/s  peak %6.0f MB  best of %d", pad(name, 30) as NSString,
                         best, mb / best, peakKB / 1024, max(1, anchorRuns)))
        }
        let out = "\(data)/anchor-out.star"
        if let relion = which("relion_star_handler") {
            try anchor("relion_star_handler read+write", [relion, "--i", file, "--o", out])
            try? FileManager.default.removeItem(atPath: out)
        } else { print("anchor relion_star_handler: not installed") }
        try anchor("starfile (pandas) read", ["python3", "-c", "import starfile,sys; d=starfile.read(sys.argv[1]); print(len(d['particles']))", file])
        try anchor("gemmi.cif read", ["python3", "-c", "import gemmi,sys; d=gemmi.cif.read_file(sys.argv[1]); print(len(d))", file])
        try anchor("starfile-rs read (lazy, text)", ["python3", "-c", "import starfile_rs,sys; d=starfile_rs.read_star(sys.argv[1]); print(len(d))", file])
        try anchor("starfile-rs read to pandas", ["python3", "-c", "import starfile_rs,sys; d=starfile_rs.read_star(sys.argv[1]); print([len(d[k].to_pandas()) for k in d.keys()])", file])
        print("\nratios (anchor time / angpix time; >1 means angpix is faster):")
        let ours = Dictionary(results.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for a in anchors {
            let compared = a.name.contains("write") ? ["read+write", "read+write+fsync"]
                : a.name.contains("lazy") ? ["tokenize"] : ["parse-typed", "parse-typed+strings"]
            for mine in compared.compactMap({ ours[$0] }) {
            print(String(format: "  %@ vs angpix %@ %6.1f× faster, %5.2f× the memory", pad(a.name, 32) as NSString,
                         pad(mine.name, 20) as NSString, a.seconds / mine.seconds, mine.peakMB / max(a.peakMB, 1)))
            }
        }
    }

    // MARK: stages (child process)

    func runStage(_ stage: String, _ input: String) throws {
        let start = Date()
        let out = "\(data)/angpix-out.star"
        // What a stage read is kept until the clock has stopped: freeing it is not part of the job.
        var result: Any? = nil
        switch stage {
        case "tokenize":
            let doc = try STARDocument(path: input)
            precondition(doc.block("particles")?.rowCount ?? 0 > 0)
            result = doc
        case "parse-typed":
            // STARTypedFile: every column of every table typed (numbers as Double or Int, text as
            // views into the file), in one pass over the text, kept until the end.
            let typed = try STARTypedFile(path: input)
            precondition(typed.tables.count == 2 && typed.tables[1].rowCount > 0 &&
                         typed.tables[1].columns.doubles.count + typed.tables[1].columns.ints.count +
                         typed.tables[1].columns.texts.count == 26)
            result = typed
        case "parse-3-columns":
            // What a script that needs the defocus of every particle reads (STARTypedFile, only:).
            let typed = try STARTypedFile(path: input, only: ["rlnDefocusU", "rlnDefocusV", "rlnOpticsGroup"])
            precondition(typed.table("particles")?.columns.doubles["rlnDefocusV"]?.count == typed.table("particles")?.rowCount)
            result = typed
        case "document+columns", "parse-typed+strings":
            // The lossless document, then every column into a typed array (numbers as Double or
            // Int), text columns as views into the file (STARTextColumn) or, in the +strings
            // stage, as arrays of String; read in one pass over the rows and kept until the end.
            let doc = try STARDocument(path: input)
            var kept: [STARColumns] = []
            for block in doc.blocks where block.rowCount > 0 {
                var d: [String] = [], i: [String] = [], s: [String] = []
                for label in block.labels {
                    let first = block.string(row: 0, label) ?? ""
                    if parseSTARInt(first) != nil && !first.contains(".") { i.append(label) }
                    else if parseSTARDouble(first) != nil { d.append(label) } else { s.append(label) }
                }
                kept.append(stage == "document+columns" ? try block.columns(doubles: d, ints: i, texts: s)
                                                   : try block.columns(doubles: d, ints: i, strings: s))
            }
            precondition(kept.count == 2 && kept[1].doubles.count + kept[1].ints.count +
                         max(kept[1].texts.count, kept[1].strings.count) == 26)
            result = (doc, kept)
        case "read+write", "read+write+fsync":
            // Atomic as always (temporary file, rename); +fsync also syncs before the rename
            // (ANGPIX_SYNC=1), which RELION, starfile and gemmi never do.
            let doc = try STARDocument(path: input)
            try doc.write(to: out, policy: OutputPolicy(overwrite: true, inputs: [input], durable: stage.hasSuffix("fsync")))
            result = doc
        case "read+modify+write":
            let doc = try STARDocument(path: input)
            let p = doc.block("particles")!
            p.replaceValues(in: "rlnOpticsGroup", mapping: ["1": "3", "2": "4"])
            p.setColumn("rlnRandomSubset", constant: "1")
            try doc.write(to: out, policy: OutputPolicy(overwrite: true, inputs: [input]))
            result = doc
        case "join":
            try runJoinStage(input, out)
        default:
            throw CoreError.invalidArgument("unknown stage \(stage)")
        }
        let seconds = Date().timeIntervalSince(start)
        withExtendedLifetime(result) {}
        try? FileManager.default.removeItem(atPath: out)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "%.4f %.1f", seconds, Double(usage.ru_maxrss) / 1024))
    }

    // MARK: helpers

    struct Timed { var status: Int32; var stdout: String; var stderr: String; var seconds: Double }

    func runTimed(_ command: [String]) throws -> Timed {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0].hasPrefix("/") ? command[0] : which(command[0]) ?? command[0])
        process.arguments = Array(command.dropFirst())
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let start = Date()
        try process.run()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Timed(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }

    func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    func which(_ tool: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        return dirs.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

extension StarBench {
    /// Joins the file with a copy of itself whose optics groups are renamed (2M particles out).
    func runJoinStage(_ input: String, _ out: String) throws {
        let a = try STARDocument(path: input)
        let b = try STARDocument(path: input)
        let optics = b.block("optics")!
        optics.setColumn("rlnOpticsGroupName", try optics.strings("rlnOpticsGroupName").map { $0 + "_b" })
        let joined = try STARJoin.join([(a, input), (b, input + " (copy)")], options: STARJoinOptions()).document
        try joined.write(to: out, policy: OutputPolicy(overwrite: true, inputs: [input]))
    }
}
