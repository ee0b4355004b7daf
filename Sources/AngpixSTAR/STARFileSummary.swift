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
    /// An mmCIF atomic model (atom_site columns).
    case mmCIF
    /// Any other STAR file.
    case other

    /// Classifies `document` from its blocks and columns alone (a RELION 3.1+ file is one with a
    /// data_optics block; its table is data_particles, data_micrographs or data_movies, else the
    /// first other loop with rlnOpticsGroup).
    public init(_ document: STARDocument) {
        if document.block("optics") != nil {
            let table = ["particles", "micrographs", "movies"].first { document.block($0) != nil }
                ?? document.blocks.first { $0.isLoop && $0.name != "optics" && $0.has("rlnOpticsGroup") }?.name
            self = .relion31(table: table ?? "")
        } else if document.blocks.contains(where: { $0.has("rlnImageName") || $0.has("rlnMicrographName") }) {
            self = .relion30
        } else if document.blocks.contains(where: { $0.labels.contains { $0.hasPrefix("atom_site.") } }) {
            self = .mmCIF
        } else {
            self = .other
        }
    }

    /// The kind in words: "RELION 3.1+ particles", "RELION 3.0 (no optics table)", "mmCIF", "STAR".
    public var description: String {
        switch self {
        case .relion31(let table): return "RELION 3.1+ \(table)"
        case .relion30: return "RELION 3.0 (no optics table)"
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
        public var number: Int, name: String, pixelSize: Double, imageSize: Int, voltage: Double
        public var sphericalAberration: Double, amplitudeContrast: Double, rows: Int
    }
    /// The file name shown.
    public var file: String
    public var blocks: [Block]
    /// `STARFileKind.description`.
    public var kind: String
    /// The data table of a RELION 3.1+ file.
    public var table: String?
    public var opticsGroups: [Group]?

    /// Summarises `document`; a RELION 3.1+ file's optics and row references are checked (and
    /// their errors thrown) with `RelionParticleFile`.
    public init(document: STARDocument, file: String) throws {
        self.file = file
        blocks = document.blocks.map {
            Block(name: $0.name, loop: $0.isLoop, rows: $0.rowCount, columns: $0.labels.count, labels: $0.labels)
        }
        let kind = STARFileKind(document)
        self.kind = kind.description
        if case .relion31 = kind {
            let relion = try RelionParticleFile(document: document, file: file)
            var counts = [Int](repeating: 0, count: relion.optics.groups.count)
            for i in try relion.opticsGroupIndices() { counts[i] += 1 }
            self.kind = STARFileKind.relion31(table: relion.particles.name).description
            table = relion.particles.name
            opticsGroups = relion.optics.groups.enumerated().map { i, g in
                Group(number: g.number, name: g.name, pixelSize: g.imagePixelSize, imageSize: g.imageSize, voltage: g.voltage,
                      sphericalAberration: g.sphericalAberration, amplitudeContrast: g.amplitudeContrast, rows: counts[i])
            }
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
            lines.append("  group  name                  pixel(Å)   box  voltage(kV)  Cs(mm)  \(table ?? "rows")")
            for g in groups {
                lines.append(String(format: "  %5d  %@ %9.4f %5d %12.1f %7.2f  %d", g.number,
                                    g.name.padding(toLength: max(20, g.name.count), withPad: " ", startingAt: 0),
                                    g.pixelSize, g.imageSize, g.voltage, g.sphericalAberration, g.rows))
            }
        }
        return lines.joined(separator: "\n")
    }
}
