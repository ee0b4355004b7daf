// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What kind of RELION file a STAR document is (3.1+ particles/micrographs/movies with an optics
// table, RELION 3.0 without one, an mmCIF model, or another STAR file), and the summary that
// `angpix star info` prints: the blocks, and for RELION 3.1+ files each optics group's optics and
// number of rows.

import Foundation
import AngpixCore

/// The kind of file a STAR document holds, as far as pixel sizes are concerned.
public enum STARFileKind: Equatable, Sendable {
    /// A RELION 3.1+ file: a data_optics table and the table (particles, micrographs or movies)
    /// whose rows refer to it.
    case relion31(table: String)
    /// A RELION 3.0 file: image or micrograph rows without a data_optics table.
    case relion30
    /// A RELION 4/5 tomography file (`TomographyKind`).
    case tomography(TomographyKind)
    /// A RELION file that holds no particles, micrographs or movies: a pipeline, job options,
    /// postprocess, model or FSC file (the name says which).
    case relionAuxiliary(String)
    /// An mmCIF atomic model (atom_site columns).
    case mmCIF
    /// Any other STAR file.
    case other

    /// The RELION 4/5 tomography files.
    public enum TomographyKind: String, Equatable, Sendable {
        /// A tilt-series set (tomograms.star, RELION 4 and 5): a data_global table with one row per
        /// tomogram (rlnTomoName), and in RELION 4 one data_<TomoName> block per tomogram.
        case tiltSeriesSet = "tilt-series set"
        /// One tilt series (RELION 5 tilt_series/<TomoName>.star): the tilt images of one tomogram.
        case tiltSeries = "tilt series"
        /// Particles with rlnTomoName and 3D coordinates (rlnCoordinateX/Y/Z or
        /// rlnCenteredCoordinateX/Y/ZAngst), with or without a data_optics table.
        case particles = "particles"
        /// RELION 5 particles extracted as 2D stacks (data_general rlnTomoSubTomosAre2DStacks 1).
        case particles2DStacks = "particles, subtomograms as 2D stacks"
        /// A RELION 5 optimisation set (rlnTomoParticlesFile, rlnTomoTomogramsFile).
        case optimisationSet = "optimisation set"
    }

    /// Classifies `document` from its blocks and columns alone. Tomography files are recognised
    /// first (their particle files also have a data_optics table; their tilt series have
    /// rlnMicrographName but are not RELION 3.0 files); a RELION 3.1+ file is one with a
    /// data_optics block; its table is data_particles, data_micrographs or data_movies, else the
    /// first other loop with rlnOpticsGroup (a file whose particle, micrograph or movie table has
    /// rlnOpticsGroup but that has no data_optics block is a RELION 3.1+ file missing its optics).
    public init(_ document: STARDocument) {
        if let tomo = Self.tomography(document) {
            self = .tomography(tomo)
        } else if document.block("optics") != nil
                    || document.blocks.contains(where: { $0.isLoop && $0.has("rlnOpticsGroup") && ($0.has("rlnImageName") || $0.has("rlnMicrographName") || $0.has("rlnMicrographMovieName")) }) {
            // With rlnOpticsGroup but no data_optics it is a broken RELION 3.1+ file, not a 3.0 one.
            let table = ["particles", "micrographs", "movies"].first { document.block($0) != nil }
                ?? document.blocks.first { $0.isLoop && $0.name != "optics" && $0.has("rlnOpticsGroup") }?.name
            self = .relion31(table: table ?? "")
        } else if let aux = Self.auxiliary(document) {
            self = .relionAuxiliary(aux)
        } else if document.blocks.contains(where: { $0.has("rlnImageName") || $0.has("rlnMicrographName") || $0.has("rlnMicrographMovieName") }) {
            self = .relion30
        } else if document.blocks.contains(where: { $0.labels.contains { $0.hasPrefix("atom_site.") } }) {
            self = .mmCIF
        } else {
            self = .other
        }
    }

    static func tomography(_ d: STARDocument) -> TomographyKind? {
        let has = { (label: String) in d.blocks.contains { $0.has(label) } }
        if has("rlnTomoParticlesFile") || has("rlnTomoTomogramsFile") { return .optimisationSet }
        if let g = d.block("global"), g.has("rlnTomoName") { return .tiltSeriesSet }
        let coordinates = (has("rlnCoordinateZ") || has("rlnCenteredCoordinateZAngst"))
        if has("rlnTomoName") && (coordinates || has("rlnTomoParticleName") || has("rlnTomoParticleId")) {
            if let g = d.block("general"), let v = g.string(row: 0, "rlnTomoSubTomosAre2DStacks"), v == "1" { return .particles2DStacks }
            return .particles
        }
        if has("rlnTomoNominalStageTiltAngle") || has("rlnTomoProjX") || has("rlnTomoNominalTiltAxisAngle") { return .tiltSeries }
        return nil
    }

    static func auxiliary(_ d: STARDocument) -> String? {
        let names = Set(d.blocks.map(\.name))
        let has = { (label: String) in d.blocks.contains { $0.has(label) } }
        if names.contains("pipeline_general") || names.contains("pipeline_processes") || has("rlnPipeLineProcessName") { return "pipeline" }
        if names.contains("joboptions_values") || has("rlnJobOptionVariable") || (names.contains("job") && has("rlnJobTypeLabel")) { return "job options" }
        if has("rlnUnfilteredMapHalf1") || names.contains("fsc") && names.contains("guinier") { return "postprocess" }
        if names.contains("model_general") || names.contains("model_classes") { return "model" }
        if names.contains("optimiser_general") { return "optimiser" }
        if names.contains("sampling_general") { return "sampling" }
        return nil
    }

    /// The kind in words: "RELION 3.1+ particles", "RELION 3.0 (no optics table)",
    /// "RELION tomography particles", "RELION pipeline", "mmCIF", "STAR".
    public var description: String {
        switch self {
        case .relion31(let table): return "RELION 3.1+ \(table)"
        case .relion30: return "RELION 3.0 (no optics table)"
        case .tomography(let t): return "RELION tomography \(t.rawValue)"
        case .relionAuxiliary(let a): return "RELION \(a)"
        case .mmCIF: return "mmCIF"
        case .other: return "STAR"
        }
    }
}

/// A summary of a STAR file for people and scripts: its blocks, its kind, and for RELION 3.1+
/// files the optics groups with their number of rows (what `angpix star info` prints).
public struct STARFileSummary: Encodable, Sendable {
    /// One block: name (without data_), loop or pairs, rows, columns and labels.
    public struct Block: Encodable, Sendable {
        public var name: String, loop: Bool, rows: Int, columns: Int, labels: [String]
    }
    /// One optics group: its optics (pixel size in Å, box in pixels, voltage in kV, Cs in mm) and
    /// how many rows of the data table refer to it.
    public struct Group: Encodable, Sendable {
    /// Values the file lacks are absent from the JSON (and a NaN is written as absent too).
        public var number: Int, name: String, pixelSize: Double?, imageSize: Int, voltage: Double?
        public var sphericalAberration: Double?, amplitudeContrast: Double?, rows: Int
    }
    /// The file name shown.
    public var file: String
    public var blocks: [Block]
    /// `STARFileKind.description`.
    public var kind: String
    /// The data table of a RELION 3.1+ file.
    public var table: String?
    public var opticsGroups: [Group]?
    /// Optics columns the optics table lacks (rlnVoltage, rlnSphericalAberration, rlnAmplitudeContrast).
    public var absentOpticsLabels: [String]?
    /// What is wrong with the file (unreadable or invalid optics values, rows referring to a
    /// missing optics group); the file is described anyway.
    public var problems: [String]
    /// Remarks for the reader (what RELION assumes for an absent column).
    public var notes: [String]
    /// One tomogram of a tilt-series set (a data_global row): its tilt-series pixel size
    /// (rlnTomoTiltSeriesPixelSize, Å), original pixel size (rlnMicrographOriginalPixelSize, Å),
    /// voltage, Cs, Q0 where given, and its number of tilt images when its data_<TomoName> block
    /// is in the same file (RELION 4).
    public struct Tomogram: Encodable, Sendable {
        public var name: String, tiltSeriesPixelSize: Double?, originalPixelSize: Double?
        public var voltage: Double?, sphericalAberration: Double?, amplitudeContrast: Double?, tilts: Int?
    }
    /// The tomograms of a RELION tomography tilt-series set.
    public var tomograms: [Tomogram]?

    /// Summarises `document`. A RELION 3.1+ (or tomography) file's optics and row references are
    /// read leniently: what is wrong is listed in `problems` rather than thrown.
    public init(document: STARDocument, file: String) throws {
        problems = []
        notes = []
        self.file = file
        blocks = document.blocks.map {
            Block(name: $0.name, loop: $0.isLoop, rows: $0.rowCount, columns: $0.labels.count, labels: $0.labels)
        }
        let kind = STARFileKind(document)
        self.kind = kind.description
        if case .tomography(.tiltSeriesSet) = kind, let global = document.block("global"), global.isLoop {
            let value = { (r: Int, l: String) -> Double? in global.string(row: r, l).flatMap(parseSTARDouble).flatMap { $0.isFinite ? $0 : nil } }
            tomograms = (0..<global.rowCount).map { r in
                let name = global.string(row: r, "rlnTomoName") ?? ""
                return Tomogram(name: name, tiltSeriesPixelSize: value(r, "rlnTomoTiltSeriesPixelSize"),
                                originalPixelSize: value(r, "rlnMicrographOriginalPixelSize"), voltage: value(r, "rlnVoltage"),
                                sphericalAberration: value(r, "rlnSphericalAberration"), amplitudeContrast: value(r, "rlnAmplitudeContrast"),
                                tilts: document.block(name).map(\.rowCount))
            }
            return
        }
        var withOptics = false
        if case .relion31 = kind { withOptics = true }
        if case .tomography = kind, document.block("optics") != nil { withOptics = true }
        guard withOptics else { return }
        let relion: RelionParticleFile
        do {
            relion = try RelionParticleFile(document: document, file: file, lenient: true)
        } catch let e as STARError {
            problems.append(e.description)
            return
        }
        problems += relion.optics.problems
        var counts = [Int](repeating: 0, count: relion.optics.groups.count)
        do {
            for i in try relion.opticsGroupIndices() { counts[i] += 1 }
        } catch let e as STARError {
            problems.append(e.description)
        }
        if case .relion31 = kind { self.kind = STARFileKind.relion31(table: relion.particles.name).description }
        table = relion.particles.name
        let finite = { (v: Double) -> Double? in v.isFinite ? v : nil }
        let absent = relion.optics.absentLabels
        opticsGroups = relion.optics.groups.enumerated().map { i, g in
            Group(number: g.number, name: g.name, pixelSize: finite(g.imagePixelSize), imageSize: g.imageSize,
                  voltage: finite(g.voltage), sphericalAberration: finite(g.sphericalAberration),
                  amplitudeContrast: absent.contains("rlnAmplitudeContrast") ? nil : finite(g.amplitudeContrast), rows: counts[i])
        }
        let optional = absent.filter { $0 != "rlnImagePixelSize" }
        if !optional.isEmpty { absentOpticsLabels = optional }
        if let note = relion.optics.amplitudeContrastNote { notes.append(note) }
        let ctfMissing = optional.filter { $0 != "rlnAmplitudeContrast" }
        if !ctfMissing.isEmpty {
            notes.append("data_optics has no \(ctfMissing.map { "_" + $0 }.joined(separator: " or ")): commands that compute a CTF refuse the file, as RELION's ObservationModel does")
        }
    }

    /// The summary as text for a terminal.
    public var text: String {
        var lines = ["\(file): \(kind)"]
        for b in blocks {
            let name = "data_\(b.name)"
            lines.append("  \(name.padding(toLength: max(18, name.count), withPad: " ", startingAt: 0)) \(b.loop ? "loop" : "pairs")  \(b.rows) row\(b.rows == 1 ? "" : "s"), \(b.columns) column\(b.columns == 1 ? "" : "s")")
        }
        if let groups = opticsGroups {
            lines.append("optics groups:")
            lines.append("  group  name                  pixel(Å)   box  voltage(kV)  Cs(mm)     Q0  \(table ?? "rows")")
            func column(_ v: Double?, _ width: Int, _ decimals: Int) -> String {
                let text = v.map { formatFixed($0, decimals: decimals, signedZero: false) } ?? "-"
                return String(repeating: " ", count: max(0, width - text.count)) + text
            }
            for g in groups {
                let number = String(g.number)
                lines.append("  " + String(repeating: " ", count: max(0, 5 - number.count)) + number + "  "
                             + g.name.padding(toLength: max(20, g.name.count), withPad: " ", startingAt: 0)
                             + column(g.pixelSize, 10, 4) + column(g.imageSize > 0 ? Double(g.imageSize) : nil, 6, 0) + column(g.voltage, 13, 1)
                             + column(g.sphericalAberration, 8, 3) + column(g.amplitudeContrast, 7, 3) + "  \(g.rows)")
            }
        }
        if let tomograms {
            lines.append("tomograms:")
            lines.append("  name                  tilt-series pixel(Å)  original pixel(Å)  voltage(kV)  Cs(mm)     Q0  tilts")
            func column(_ v: Double?, _ width: Int, _ decimals: Int) -> String {
                let text = v.map { formatFixed($0, decimals: decimals, signedZero: false) } ?? "-"
                return String(repeating: " ", count: max(0, width - text.count)) + text
            }
            for t in tomograms {
                lines.append("  " + t.name.padding(toLength: max(20, t.name.count), withPad: " ", startingAt: 0)
                             + column(t.tiltSeriesPixelSize, 22, 4) + column(t.originalPixelSize, 19, 4)
                             + column(t.voltage, 13, 1) + column(t.sphericalAberration, 8, 3)
                             + column(t.amplitudeContrast, 7, 3) + column(t.tilts.map(Double.init), 7, 0))
            }
        }
        for n in notes { lines.append("note: \(n)") }
        if !problems.isEmpty {
            lines.append("problems:")
            for p in problems { lines.append("  \(p)") }
        }
        return lines.joined(separator: "\n")
    }
}
