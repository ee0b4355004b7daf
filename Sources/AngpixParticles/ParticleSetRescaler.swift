// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix particles rescale`: a RELION 3.1 particle STAR file and its stacks brought to another
// pixel size and box (the "merge datasets by re-scaling one of them" recipe of RELION's "Pixel size
// issues" page), on one machine or split into shards.
//
// What changes in the STAR file, and what must not:
// - data_optics, selected groups: rlnImagePixelSize becomes the pixel size reached and rlnImageSize
//   the new box. Everything else there is physical (Å, mm, kV, the detector's
//   rlnMicrographOriginalPixelSize, the micrographs' rlnMicrographPixelSize, aberrations,
//   magnification matrices) and stays.
// - particles of selected groups: rlnImageName points to the same image number in the new stack.
//   Origins in Å (rlnOriginXAngst/YAngst), coordinates in micrograph pixels, defocus, angles stay
//   as they are. Origins in pixels (rlnOriginX/Y/Z and their priors, RELION 3.0 labels) are scaled
//   by old pixel size / new pixel size so that they keep meaning the same shift in Å.
// - a file without data_optics (RELION 3.0) is refused: its pixel size is not defined per group.
// The output folder is owned by the run: OUTDIR/angpix_rescale.json records the input and the
// settings; a rerun with the same ones resumes, one with others is refused without --force.

import Foundation
import AngpixCore
import AngpixSTAR

/// A particle-set rescale to run.
public struct ParticleRescaleRequest: Sendable {
    /// The particle STAR file.
    public var starPath: String
    public var settings: RescaleSettings
    /// The output folder, as the user gave it (new rlnImageName start with it).
    public var outputDirectory: String
    /// This process's shard (from 1) and the number of shards (1, 1 without --shard).
    public var shard: Int
    public var shardCount: Int
    /// Redo every stack and overwrite every output.
    public var force: Bool
    /// The folder relative stack paths are read from (RELION's project folder: the current one).
    public var projectDirectory: String

    public init(starPath: String, settings: RescaleSettings, outputDirectory: String, shard: Int = 1,
                shardCount: Int = 1, force: Bool = false, projectDirectory: String) {
        self.starPath = starPath
        self.settings = settings
        self.outputDirectory = outputDirectory
        self.shard = shard
        self.shardCount = shardCount
        self.force = force
        self.projectDirectory = projectDirectory
    }

    /// Whether this run is one shard of several (and writes a partial STAR file).
    public var isSharded: Bool { shardCount > 1 }
}

/// What a run did.
public struct ParticleRescaleSummary: Sendable, Codable {
    /// The STAR file written (particles.star or the shard's particles_shardIIIofNNN.star).
    public var starFile: String
    /// Particles in that file.
    public var particles: Int
    /// Stacks rescaled and skipped (complete) by this process.
    public var stacks: StackTotals
    /// Stacks of this process's share whose optics group was not selected (left in place).
    public var keptStacks: Int
    /// The rescale of each selected optics group.
    public var groups: [GroupRescale]
    public var shard: Int
    public var shards: Int
}

/// The record of a run's input and settings in its output folder.
struct RunManifest: Codable, Equatable {
    var format = "angpix-particles-rescale-1"
    var input: String
    var pixelSize: Double
    var box: Int?
    var groups: [String]

    static func path(in folder: String) -> String { ParticleSetPlan.join(folder, "angpix_rescale.json") }
}

/// Reading the particle STAR file's optics and particle tables.
struct ParticleTables {
    let document: STARDocument
    let optics: STARBlock
    let particles: STARBlock
    let groups: [PlanOpticsGroup]

    init(path: String) throws {
        document = try STARDocument(path: path)
        guard let optics = document.block("optics") else { throw ParticlesError.noOpticsTable(file: path) }
        guard let particles = document.block("particles")
                ?? document.blocks.first(where: { $0.isLoop && $0.name != "optics" && $0.has("rlnImageName") }),
              particles.has("rlnImageName") else {
            throw ParticlesError.noParticles(file: path, reason: "no particle table with rlnImageName")
        }
        self.optics = optics
        self.particles = particles
        let table = try OpticsTable(block: optics, file: path)
        groups = table.groups.map {
            PlanOpticsGroup(number: $0.number, name: $0.name, pixelSize: $0.imagePixelSize, imageSize: $0.imageSize,
                            dimensionality: $0.imageDimensionality)
        }
    }
}

/// The names of the shard STAR files: particles_shard003of010.star.
public func shardFileName(_ shard: Int, of count: Int) -> String {
    String(format: "particles_shard%03dof%03d.star", shard, count)
}

/// Rescales a particle set (or one shard of it): stacks first, then the STAR file.
public func rescaleParticleSet(_ request: ParticleRescaleRequest,
                               progress: ProgressHandler? = nil) throws -> ParticleRescaleSummary {
    try request.settings.validate()
    guard request.shardCount >= 1, request.shard >= 1, request.shard <= request.shardCount else {
        throw ParticlesError.invalidOption("--shard \(request.shard)/\(request.shardCount): expected I/N with 1 ≤ I ≤ N")
    }
    let file = request.starPath
    let tables = try ParticleTables(path: file)
    let names = try tables.particles.strings("rlnImageName")
    let rowGroups = tables.particles.has("rlnOpticsGroup") ? try tables.particles.ints("rlnOpticsGroup") : nil
    let plan = try ParticleSetPlan(file: file, imageNames: names, rowGroups: rowGroups, optics: tables.groups,
                                   settings: request.settings, shardCount: request.shardCount)

    // The output folder: ours (same manifest), another run's (refuse), or new.
    let folder = request.outputDirectory
    let manifest = RunManifest(input: canonicalPath(file), pixelSize: request.settings.pixelSize,
                               box: request.settings.box, groups: request.settings.groups.sorted())
    let manifestPath = RunManifest.path(in: folder)
    var resuming = false
    if let data = FileManager.default.contents(atPath: manifestPath) {
        let previous = try? JSONDecoder().decode(RunManifest.self, from: data)
        if previous == manifest {
            resuming = true
        } else if !request.force {
            let reason: String
            if let previous {
                reason = previous.input != manifest.input ? "input \(previous.input)"
                    : "--angpix \(previous.pixelSize), --box \(previous.box.map(String.init) ?? "none"), groups \(previous.groups)"
            } else {
                reason = "unreadable \(manifestPath)"
            }
            throw ParticlesError.differentRun(folder: folder, reason: reason)
        }
    }
    let starOut = ParticleSetPlan.join(folder, request.isSharded ? shardFileName(request.shard, of: request.shardCount)
                                                                  : "particles.star")

    // The stacks of this shard.
    var jobs: [StackJob] = []
    var kept = 0
    for k in plan.stacks(inShard: request.shard) {
        let stack = plan.stacks[k]
        guard let rescale = stack.rescale else { kept += 1; continue }
        let source = stack.path.hasPrefix("/") ? stack.path : ParticleSetPlan.join(request.projectDirectory, stack.path)
        let output = ParticleSetPlan.join(folder, stack.outputPath)
        jobs.append(StackJob(label: stack.path, source: source, output: output, rescale: rescale,
                             maxIndex: stack.maxIndex, maxIndexRow: stack.maxIndexRow, firstRow: stack.firstRow))
    }
    let counts = try checkSources(jobs, file: file)
    for job in jobs where canonicalPath(job.output) == canonicalPath(job.source) {
        throw CoreError.outputIsInput(path: job.output)
    }
    if !resuming && !request.force {
        for path in jobs.map(\.output) + [starOut] where FileManager.default.fileExists(atPath: path) {
            throw ParticlesError.foreignOutput(path: path)
        }
    }
    do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
        throw CoreError.cannotWrite(path: folder, reason: error.localizedDescription)
    }
    if !resuming {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeFileAtomically(try encoder.encode(manifest) + Data("\n".utf8), to: manifestPath,
                                policy: OutputPolicy(overwrite: true, inputs: [file]))
    }

    let totals = try rescaleStacks(jobs, counts: counts, force: request.force, inputs: [file], progress: progress)

    // The STAR file.
    let rows = plan.rows(inShard: request.shard)
    let document = try rescaledDocument(tables, plan: plan, names: names, rows: rows,
                                        outputPrefix: folder, request: request)
    try document.write(to: starOut, policy: OutputPolicy(overwrite: true, inputs: [file]))
    return ParticleRescaleSummary(starFile: starOut, particles: rows.count, stacks: totals, keptStacks: kept,
                                  groups: plan.groups.keys.sorted().map { plan.groups[$0]! },
                                  shard: request.shard, shards: request.shardCount)
}

/// Formats a number as RELION writes reals.

/// The labels of origins in pixels (RELION 3.0), which scale with the pixel size.
let pixelOriginLabels = ["rlnOriginX", "rlnOriginY", "rlnOriginZ", "rlnOriginXPrior", "rlnOriginYPrior", "rlnOriginZPrior"]

/// The output document: the input's blocks with data_optics updated and the particle table
/// reduced to `rows`, with new image names (and, for a shard, its bookkeeping blocks).
func rescaledDocument(_ tables: ParticleTables, plan: ParticleSetPlan, names: [String], rows: [Int],
                      outputPrefix: String, request: ParticleRescaleRequest) throws -> STARDocument {
    let file = request.starPath
    // Optics: new pixel size and box for the selected groups.
    let optics = tables.optics
    let numbers = try optics.ints("rlnOpticsGroup")
    var pixel = try optics.strings("rlnImagePixelSize")
    var size = try optics.strings("rlnImageSize")
    for (r, n) in numbers.enumerated() {
        if let g = plan.groups[n] {
            pixel[r] = formatFixed(g.newPixelSize, decimals: 6)
            size[r] = String(g.finalBox)
        }
    }
    optics.setColumn("rlnImagePixelSize", pixel)
    optics.setColumn("rlnImageSize", size)

    // Particles: the shard's rows, new names, pixel origins scaled.
    let particles = rows.count == tables.particles.rowCount ? tables.particles : tables.particles.selectingRows(rows)
    particles.setColumn("rlnImageName", rows.map { plan.newImageName(names[$0], row: $0, outputPrefix: outputPrefix) })
    for label in pixelOriginLabels where particles.has(label) {
        let values = try tables.particles.doubles(label)
        let texts = try tables.particles.strings(label)
        particles.setColumn(label, rows.map { r in
            guard let g = plan.stacks[Int(plan.rowStack[r])].rescale else { return texts[r] }
            return formatFixed(values[r] * g.oldPixelSize / g.newPixelSize, decimals: 6)
        })
    }
    var blocks: [STARBlock] = tables.document.blocks.map { $0 === tables.particles ? particles : $0 }
    if request.isSharded {
        blocks.append(STARBlock(name: "angpix_shard", pairs: [
            ("angpixShard", String(request.shard)),
            ("angpixShards", String(request.shardCount)),
            ("angpixInput", canonicalPath(file)),
            ("angpixParticles", String(tables.particles.rowCount)),
            ("angpixParticleBlock", tables.particles.name),
        ]))
        blocks.append(STARBlock(name: "angpix_rows", labels: ["angpixInputRow"], rows: rows.map { [String($0 + 1)] }))
    }
    return STARDocument(blocks: blocks)
}

/// What a merge did.
public struct ShardMergeSummary: Sendable, Codable {
    public var starFile: String
    public var shards: Int
    public var particles: Int
}

/// Merges the shard STAR files of OUTDIR into OUTDIR/particles.star, in the input's particle order.
/// Refuses if a shard is missing, if shards of different splits or inputs are mixed, or if the
/// shards do not cover every particle exactly once.
public func mergeShards(outputDirectory folder: String) throws -> ShardMergeSummary {
    let entries: [String]
    do {
        entries = try FileManager.default.contentsOfDirectory(atPath: folder)
    } catch {
        throw ParticlesError.badShards(folder: folder, reason: "cannot list the folder: \(error.localizedDescription)")
    }
    var found: [(shard: Int, count: Int, name: String)] = []
    for name in entries.sorted() where name.hasPrefix("particles_shard") && name.hasSuffix(".star") {
        let middle = name.dropFirst("particles_shard".count).dropLast(".star".count)
        let parts = middle.components(separatedBy: "of")
        if parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), i >= 1, i <= n {
            found.append((i, n, name))
        }
    }
    guard !found.isEmpty else {
        throw ParticlesError.badShards(folder: folder, reason: "no shard files (particles_shardIIIofNNN.star)")
    }
    let splits = Set(found.map(\.count))
    guard splits.count == 1, let n = splits.first else {
        throw ParticlesError.badShards(folder: folder,
            reason: "shard files of different splits (\(splits.sorted().map { "of \($0)" }.joined(separator: ", "))); remove the stale ones")
    }
    let present = Set(found.map(\.shard))
    let missing = (1...n).filter { !present.contains($0) }
    guard missing.isEmpty else {
        throw ParticlesError.badShards(folder: folder,
            reason: "missing " + missing.map { shardFileName($0, of: n) }.joined(separator: ", ") + " (run those shards first)")
    }

    var documents: [STARDocument] = []
    var input = "", total = -1, blockName = ""
    var labels: [String] = []
    var source: [(doc: Int, row: Int)?] = []
    for shard in 1...n {
        let path = ParticleSetPlan.join(folder, shardFileName(shard, of: n))
        let doc = try STARDocument(path: path)
        guard let info = doc.block("angpix_shard"), let rowsBlock = doc.block("angpix_rows"),
              let shardInput = info.value("angpixInput"), let count = info.value("angpixParticles").flatMap({ Int($0) }),
              let name = info.value("angpixParticleBlock"), let particles = doc.block(name) else {
            throw ParticlesError.badShards(folder: folder, reason: "\(path): not a shard file of angpix particles rescale")
        }
        if shard == 1 {
            input = shardInput; total = count; blockName = name; labels = particles.labels
            source = Array(repeating: nil, count: count)
        } else if shardInput != input || count != total || name != blockName || particles.labels != labels {
            throw ParticlesError.badShards(folder: folder,
                reason: "\(path): comes from another input or run than \(shardFileName(1, of: n))")
        }
        let inputRows = try rowsBlock.ints("angpixInputRow")
        guard inputRows.count == particles.rowCount else {
            throw ParticlesError.badShards(folder: folder, reason: "\(path): data_angpix_rows does not match the particles")
        }
        for (local, r) in inputRows.enumerated() {
            guard r >= 1, r <= total, source[r - 1] == nil else {
                throw ParticlesError.badShards(folder: folder, reason: "\(path): particle \(r) is out of range or in two shards")
            }
            source[r - 1] = (documents.count, local)
        }
        documents.append(doc)
    }
    if let gap = source.firstIndex(where: { $0 == nil }) {
        throw ParticlesError.badShards(folder: folder, reason: "particle \(gap + 1) of \(input) is in no shard")
    }
    let tables = documents.map { $0.block(blockName)! }
    let rows: [[String]] = source.map { s in
        let block = tables[s!.doc]
        return labels.map { block.string(row: s!.row, $0) ?? "" }
    }
    let merged = STARBlock(name: blockName, labels: labels, rows: rows)
    let blocks = documents[0].blocks.compactMap { b -> STARBlock? in
        if b.name == "angpix_shard" || b.name == "angpix_rows" { return nil }
        return b.name == blockName ? merged : b
    }
    let out = ParticleSetPlan.join(folder, "particles.star")
    try STARDocument(blocks: blocks).write(to: out, policy: OutputPolicy(overwrite: true))
    return ShardMergeSummary(starFile: out, shards: n, particles: total)
}
