// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Joining STAR files the way RELION's JoinStar does (`relion_star_handler --combine`, RELION 3.1
// src/apps/star_handler.cpp): the optics groups of all inputs are renumbered 1…n in order of first
// appearance (inputs in order, groups in table order) and every row's rlnOpticsGroup is remapped;
// groups with the same rlnOpticsGroupName are joined into one; columns not present in every input
// are dropped. Unlike RELION, two groups with the same name but different optics (pixel size,
// box, voltage, Cs, ...) are not silently joined (RELION keeps the first group's values, which
// corrupts the second dataset): the join is refused, or with `renameConflicts` the later group
// gets a new unique name (`dataset1_2`). Works for particle, micrograph and movie files, and for
// RELION 3.0 files without optics tables (plain concatenation). In a file with several tables
// the particle, micrograph or movie table is joined (the other tables are reported); files that
// hold none (pipeline, job, postprocess, tilt-series files) are refused. RELION 5 tomography
// particle files keep their data_general block (rlnTomoSubTomosAre2DStacks, which RELION 5 needs
// to read the particles) when every input has the same one; RELION 3.1's JoinStar drops it.

import AngpixCore

/// Options of a join.
public struct STARJoinOptions: Sendable {
    /// Give a later optics group whose name is taken by a group with different optics a new name
    /// instead of refusing.
    public var renameConflicts: Bool
    /// Keep a column that some inputs lack, with this value in their rows (label -> value).
    public var fill: [String: String]
    /// Columns whose duplicated values are reported (for example rlnImageName).
    public var checkDuplicates: [String]

    public init(renameConflicts: Bool = false, fill: [String: String] = [:], checkDuplicates: [String] = []) {
        self.renameConflicts = renameConflicts
        self.fill = fill
        self.checkDuplicates = checkDuplicates
    }
}

/// A value found more than once in a checked column.
public struct STARDuplicate: Sendable, Equatable {
    public var label: String
    public var value: String
    public var count: Int
    /// Where it occurs ("file:line"), the first few.
    public var places: [String]
}

/// What happened to one input optics group.
public struct OpticsGroupMapping: Sendable, Equatable {
    public var file: String
    public var oldNumber: Int
    public var newNumber: Int
    public var oldName: String
    public var newName: String
    /// True if the group was joined to an identical group of the same name from an earlier input.
    public var joined: Bool
}

/// The joined document and a report of what the join did.
public struct STARJoinResult: Sendable {
    public var document: STARDocument
    /// One entry per optics group of every input, in input order.
    public var groups: [OpticsGroupMapping]
    /// Columns dropped because some inputs lack them: (table, label, files that have it).
    public var droppedColumns: [(table: String, label: String, presentIn: [String])]
    /// Columns kept with a fill value for the inputs that lack them: (table, label, files filled).
    public var filledColumns: [(table: String, label: String, filledIn: [String])]
    /// Blocks of the inputs that the join does not carry over (e.g. data_general).
    public var ignoredBlocks: [(file: String, block: String)]
    /// Rows taken from each input.
    public var rowCounts: [Int]
    /// Duplicated values of the checked columns.
    public var duplicates: [STARDuplicate]
    /// Total number of duplicated rows per checked column (beyond the first occurrence).
    public var duplicateCounts: [String: Int]
}

/// RELION-compatible joining of STAR files (see the file header).
public enum STARJoin {
    /// Joins `inputs` (document and the name used in messages) into one document.
    public static func join(_ inputs: [(document: STARDocument, file: String)], options: STARJoinOptions = STARJoinOptions()) throws -> STARJoinResult {
        guard inputs.count >= 2 else { throw CoreError.invalidArgument("join needs at least two STAR files") }
        for input in inputs { try checkJoinable(input.document, file: input.file) }
        var result = try joinTables(inputs, options)
        if let general = try commonGeneral(inputs) {
            result.document = STARDocument(blocks: [general] + result.document.blocks)
            result.ignoredBlocks.removeAll { $0.block == "general" }
        }
        return result
    }

    /// Refuses files that hold no table a join can combine, naming what they are.
    static func checkJoinable(_ document: STARDocument, file: String) throws {
        let kind = STARFileKind(document)
        switch kind {
        case .relionAuxiliary(let what):
            throw STARError.invalid(file: file, line: nil,
                reason: "a RELION \(what) file (\(blockList(document))), not a particle, micrograph or movie file; angpix joins only those")
        case .tomography(let t) where t == .tiltSeriesSet || t == .tiltSeries || t == .optimisationSet:
            throw STARError.invalid(file: file, line: nil,
                reason: "a RELION tomography \(t.rawValue) file (\(blockList(document))); angpix joins particle, micrograph and movie files only")
        default:
            break
        }
        if document.block("optics") == nil {
            for b in document.blocks where b.isLoop && b.has("rlnOpticsGroup") && !b.has("rlnImageName") && !b.has("rlnMicrographName")
                && (b.has("rlnImagePixelSize") || b.has("rlnVoltage") || b.has("rlnMicrographPixelSize")) {
                throw STARError.invalid(file: file, line: nil,
                    reason: "data_\(b.name) looks like an optics table (rlnOpticsGroup with optics columns) but is not named data_optics, so RELION would not read it as one; rename the block to data_optics and join again")
            }
        }
    }

    static func blockList(_ document: STARDocument) -> String {
        let names = document.blocks.map { "data_\($0.name)" }
        return names.count <= 4 ? names.joined(separator: ", ") : names.prefix(4).joined(separator: ", ") + ", … (\(names.count) blocks)"
    }

    /// The data_general pairs block shared by every input (RELION 5 tomography), if any; refuses
    /// inputs whose data_general differ in rlnTomoSubTomosAre2DStacks.
    static func commonGeneral(_ inputs: [(document: STARDocument, file: String)]) throws -> STARBlock? {
        let generals = inputs.map { $0.document.block("general") }
        guard generals.contains(where: { $0 != nil }) else { return nil }
        let stacks = generals.map { $0?.string(row: 0, "rlnTomoSubTomosAre2DStacks") ?? "0" }
        if let k = stacks.firstIndex(where: { $0 != stacks[0] }) {
            throw STARError.invalid(file: inputs[k].file, line: nil,
                reason: "rlnTomoSubTomosAre2DStacks is \(stacks[k]) but \(stacks[0]) in \(inputs[0].file): RELION 5 reads the particles of one file either as 2D stacks or as 3D subtomograms, not both; re-extract one of them")
        }
        guard let first = generals[0], !first.isLoop, generals.allSatisfy({ g in
            guard let g, !g.isLoop, g.labels == first.labels else { return false }
            return first.labels.allSatisfy { sameValue(first.string(row: 0, $0) ?? "", g.string(row: 0, $0) ?? "") }
        }) else { return nil }
        return first.copy()
    }

    static func joinTables(_ inputs: [(document: STARDocument, file: String)], _ options: STARJoinOptions) throws -> STARJoinResult {
        let withOptics = inputs.map { $0.document.block("optics") != nil }
        if let i = withOptics.firstIndex(of: true), let j = withOptics.firstIndex(of: false) {
            throw STARError.invalid(file: inputs[j].file, line: nil,
                reason: "has no data_optics table but \(inputs[i].file) has one (a RELION 3.0 file? convert it first with `angpix star upgrade`)")
        }
        if withOptics[0] { return try joinRelion31(inputs, options) }
        return try joinPlain(inputs, options)
    }

    /// Labels common to all tables (in the first table's order), plus filled ones.
    static func commonLabels(_ tables: [STARBlock], _ files: [String], fill: [String: String], tableName: String,
                             dropped: inout [(table: String, label: String, presentIn: [String])],
                             filled: inout [(table: String, label: String, filledIn: [String])]) -> [String] {
        var order: [String] = []
        var seen = Set<String>()
        for t in tables { for l in t.labels where seen.insert(l).inserted { order.append(l) } }
        var labels: [String] = []
        for l in order {
            let missing = tables.indices.filter { !tables[$0].has(l) }
            if missing.isEmpty { labels.append(l); continue }
            if fill[l] != nil {
                labels.append(l)
                filled.append((tableName, l, missing.map { files[$0] }))
            } else {
                dropped.append((tableName, l, tables.indices.filter { tables[$0].has(l) }.map { files[$0] }))
            }
        }
        return labels
    }

    static func sameValue(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        if let x = parseSTARDouble(a), let y = parseSTARDouble(b) { return x == y }
        if let x = parseRelionVector(a), let y = parseRelionVector(b), a.hasPrefix("["), b.hasPrefix("[") { return x == y }
        return false
    }

    static func joinRelion31(_ inputs: [(document: STARDocument, file: String)], _ options: STARJoinOptions) throws -> STARJoinResult {
        var files: [RelionParticleFile] = []
        for input in inputs { files.append(try RelionParticleFile(document: input.document, file: input.file)) }
        let names = inputs.map(\.file)
        let dataName = files[0].particles.name
        for (k, f) in files.enumerated() where f.particles.name != dataName {
            throw STARError.invalid(file: names[k], line: nil,
                reason: "its table is data_\(f.particles.name) but \(names[0]) has data_\(dataName); only files of one kind can be joined")
        }
        var dropped: [(table: String, label: String, presentIn: [String])] = []
        var filled: [(table: String, label: String, filledIn: [String])] = []
        let opticsBlocks = inputs.map { $0.document.block("optics")! }
        let opticsLabels = commonLabels(opticsBlocks, names, fill: options.fill, tableName: "optics", dropped: &dropped, filled: &filled)
        let compared = opticsLabels.filter { $0 != "rlnOpticsGroup" && $0 != "rlnOpticsGroupName" }

        // Output groups in order of first appearance.
        struct OutGroup { var input: Int; var row: Int; var name: String }
        var out: [OutGroup] = []
        var byName: [String: Int] = [:]
        var usedNames = Set<String>()
        for f in files { for g in f.optics.groups { usedNames.insert(g.name) } }
        var mappings: [OpticsGroupMapping] = []
        var numberMaps: [[String: String]] = []
        for (k, f) in files.enumerated() {
            var map: [String: String] = [:]
            for (row, g) in f.optics.groups.enumerated() {
                var newName = g.name
                var target: Int? = nil
                if let existing = byName[g.name] {
                    let first = out[existing]
                    let firstValues = files[first.input].optics.groups[first.row].values
                    var differences: [String] = []
                    for l in compared {
                        let a = firstValues[l] ?? options.fill[l] ?? ""
                        let b = g.values[l] ?? options.fill[l] ?? ""
                        if !sameValue(a, b) { differences.append("\(l) \(a) vs \(b)") }
                    }
                    if differences.isEmpty {
                        target = existing
                    } else if options.renameConflicts {
                        var n = 2
                        while usedNames.contains("\(g.name)_\(n)") { n += 1 }
                        newName = "\(g.name)_\(n)"
                        usedNames.insert(newName)
                    } else {
                        let firstFile = names[first.input]
                        throw STARError.invalid(file: names[k], line: g.line,
                            reason: "optics group '\(g.name)' also exists in \(firstFile) with different optics (\(differences.joined(separator: ", "))); RELION would silently give these particles \(firstFile)'s values. Rename one of the groups, or use --rename-conflicts")
                    }
                }
                let joined = target != nil
                let number: Int
                if let t = target {
                    number = t + 1
                } else {
                    out.append(OutGroup(input: k, row: row, name: newName))
                    number = out.count
                    byName[newName] = out.count - 1
                }
                map[String(g.number)] = String(number)
                mappings.append(OpticsGroupMapping(file: names[k], oldNumber: g.number, newNumber: number,
                                                   oldName: g.name, newName: newName, joined: joined))
            }
            numberMaps.append(map)
        }
        // The optics table: the chosen rows, renumbered and (where renamed) renamed.
        let opticsRows = out.map { o -> [String] in
            let values = files[o.input].optics.groups[o.row].values
            return opticsLabels.map { l in
                if l == "rlnOpticsGroup" { return "" }
                if l == "rlnOpticsGroupName" { return o.name }
                return values[l] ?? options.fill[l] ?? ""
            }
        }
        var rows = opticsRows
        if let c = opticsLabels.firstIndex(of: "rlnOpticsGroup") { for i in rows.indices { rows[i][c] = String(i + 1) } }
        var labelsOut = opticsLabels
        if !labelsOut.contains("rlnOpticsGroupName") && out.contains(where: { $0.name != files[$0.input].optics.groups[$0.row].name }) {
            labelsOut.append("rlnOpticsGroupName")
            for i in rows.indices { rows[i].append(out[i].name) }
        }
        let optics = STARBlock(name: "optics", labels: labelsOut, rows: rows)

        // The data table: all rows, in input order, groups remapped.
        let dataTables = files.map(\.particles)
        let dataLabels = commonLabels(dataTables, names, fill: options.fill, tableName: dataName, dropped: &dropped, filled: &filled)
        var pieces: [STARBlock] = []
        for (k, t) in dataTables.enumerated() {
            let piece = t.copy()
            if t.has("rlnOpticsGroup") {
                let map = numberMaps[k].filter { $0.key != $0.value }
                if !map.isEmpty { piece.replaceValues(in: "rlnOpticsGroup", mapping: map) }
            } else if let only = numberMaps[k].values.first {
                piece.setColumn("rlnOpticsGroup", constant: only)
            }
            pieces.append(piece)
        }
        var finalLabels = dataLabels
        if !finalLabels.contains("rlnOpticsGroup") { finalLabels.append("rlnOpticsGroup") }
        let data = STARBlock.concatenating(pieces, name: dataName, labels: finalLabels, fill: options.fill)
        var ignored: [(file: String, block: String)] = []
        for (k, input) in inputs.enumerated() {
            for b in input.document.blocks where b !== opticsBlocks[k] && b !== dataTables[k] {
                ignored.append((names[k], b.name))
            }
        }
        let (dups, counts) = try duplicates(data, labels: options.checkDuplicates)
        return STARJoinResult(document: STARDocument(blocks: [optics, data]), groups: mappings, droppedColumns: dropped,
                              filledColumns: filled, ignoredBlocks: ignored, rowCounts: dataTables.map(\.rowCount),
                              duplicates: dups, duplicateCounts: counts)
    }

    static func joinPlain(_ inputs: [(document: STARDocument, file: String)], _ options: STARJoinOptions) throws -> STARJoinResult {
        let names = inputs.map(\.file)
        var tables: [STARBlock] = []
        for (k, input) in inputs.enumerated() {
            let loops = input.document.blocks.filter { $0.isLoop }
            let dataLabels = ["rlnImageName", "rlnMicrographName", "rlnMicrographMovieName", "rlnTomoName"]
            let candidates = loops.filter { b in dataLabels.contains { b.has($0) } }
            if let t = candidates.first, candidates.count == 1 || candidates.dropFirst().allSatisfy({ $0.name == t.name }) {
                tables.append(t)
            } else if candidates.count > 1 {
                throw STARError.invalid(file: names[k], line: nil,
                    reason: "it has \(candidates.count) particle/micrograph tables (\(candidates.map { "data_\($0.name)" }.joined(separator: ", "))); angpix cannot tell which to join")
            } else if loops.count == 1 {
                tables.append(loops[0])
            } else if loops.isEmpty {
                throw STARError.invalid(file: names[k], line: nil, reason: "no loop_ table to join")
            } else {
                throw STARError.invalid(file: names[k], line: nil,
                    reason: "it has \(loops.count) tables (\(loops.map { "data_\($0.name)" }.joined(separator: ", "))) and none is a particle, micrograph or movie table (rlnImageName, rlnMicrographName or rlnMicrographMovieName); angpix joins only those")
            }
        }
        if let k = tables.indices.first(where: { tables[$0].name != tables[0].name }) {
            throw STARError.invalid(file: names[k], line: nil,
                reason: "its table is data_\(tables[k].name) but \(names[0]) has data_\(tables[0].name); only files of one kind can be joined")
        }
        var dropped: [(table: String, label: String, presentIn: [String])] = []
        var filled: [(table: String, label: String, filledIn: [String])] = []
        let labels = commonLabels(tables, names, fill: options.fill, tableName: tables[0].name, dropped: &dropped, filled: &filled)
        let data = STARBlock.concatenating(tables, name: tables[0].name, labels: labels, fill: options.fill)
        var ignored: [(file: String, block: String)] = []
        for (k, input) in inputs.enumerated() {
            for b in input.document.blocks where b !== tables[k] { ignored.append((names[k], b.name)) }
        }
        let (dups, counts) = try duplicates(data, labels: options.checkDuplicates)
        return STARJoinResult(document: STARDocument(blocks: [data]), groups: [], droppedColumns: dropped, filledColumns: filled,
                              ignoredBlocks: ignored, rowCounts: tables.map(\.rowCount), duplicates: dups, duplicateCounts: counts)
    }

    /// Values that occur more than once in each of `labels` (the first 20 per label, with places).
    public static func duplicates(_ block: STARBlock, labels: [String]) throws -> ([STARDuplicate], [String: Int]) {
        var result: [STARDuplicate] = []
        var counts: [String: Int] = [:]
        for label in labels {
            let values = try block.strings(label)
            var firstRow: [String: Int] = [:]
            firstRow.reserveCapacity(values.count)
            var repeats: [String: [Int]] = [:]
            var extra = 0
            for (r, v) in values.enumerated() {
                if let f = firstRow[v] {
                    extra += 1
                    if repeats[v] == nil { if repeats.count < 20 { repeats[v] = [f, r] } } else { repeats[v]!.append(r) }
                } else {
                    firstRow[v] = r
                }
            }
            counts[label] = extra
            for (v, rows) in repeats.sorted(by: { $0.value[0] < $1.value[0] }) {
                let places = rows.prefix(5).map { r -> String in
                    let (p, local) = block.locate(r)
                    let part = block.parts[p]
                    if let t = part.table { return "\(t.source.name):\(t.line(part.tableRow(local), 0))" }
                    return "row \(r + 1)"
                }
                let total = values.lazy.filter { $0 == v }.count
                result.append(STARDuplicate(label: label, value: v, count: total, places: Array(places)))
            }
        }
        return (result, counts)
    }
}
