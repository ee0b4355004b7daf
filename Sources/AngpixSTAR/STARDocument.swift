// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A STAR document: the tables of a STAR file (RELION 3.0–5 particle, micrograph, movie,
// postprocess and model files; PDB mmCIF files) in file order, read losslessly and written back
// atomically. The STAR format is defined by Hall (1991) and, for mmCIF, by the CIF 1.1 syntax.

import AngpixCore

/// A whole STAR or mmCIF file: its tables in order.
///
/// Each `loop_` table or group of key-value pairs is one `STARBlock`; a `data_` block holding
/// several (as in mmCIF) gives several blocks of the same name, the later ones with
/// `sharesDataBlock` set.
public final class STARDocument: @unchecked Sendable {
    /// The tables in file order.
    public var blocks: [STARBlock]
    /// The path or name the document was read from ("<text>" or "<new>" otherwise).
    public let name: String

    /// Reads a STAR file (memory-mapped). Errors name the file and line.
    public init(path: String) throws {
        let mapped = try MappedFile(path: path)
        let source = STARSource(mapped: mapped, name: path)
        var parser = STARParser(source: source)
        blocks = try parser.parse()
        name = path
    }

    /// Reads STAR text held in memory; `name` is used in error messages.
    public init(text: String, name: String = "<text>") throws {
        let source = STARSource(text: text, name: name)
        var parser = STARParser(source: source)
        blocks = try parser.parse()
        self.name = name
    }

    /// A document made of the given blocks.
    public init(blocks: [STARBlock]) {
        self.blocks = blocks
        name = "<new>"
    }

    /// The first block called `name` (without `data_`).
    public func block(_ name: String) -> STARBlock? {
        blocks.first { $0.name == name }
    }

    /// The first block that has a column `label` (e.g. "atom_site.Cartn_x" in an mmCIF file).
    public func block(withLabel label: String) -> STARBlock? {
        blocks.first { $0.has(label) }
    }

    /// Writes the document to `path` atomically; unchanged blocks keep their exact text.
    public func write(to path: String, policy: OutputPolicy) throws {
        let writer = try AtomicFileWriter(destination: path, policy: policy)
        var sink = FileSink(writer: writer)
        try STARWriter.write(blocks, to: &sink)
        try writer.commit()
    }

    /// The document as STAR text.
    public func serialized() -> String {
        var sink = MemorySink()
        STARWriter.write(blocks, to: &sink)   // a memory sink cannot fail (Failure == Never)
        return String(decoding: sink.data, as: UTF8.self)
    }
}
