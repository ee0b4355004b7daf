// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Reading a model file whatever its format: PDB or PDBx/mmCIF, plain or gzip/bzip2-compressed.
// The format is recognised from the content (an mmCIF file starts with data_ after comments;
// a PDB file has fixed-column records), so a misnamed file is still read correctly.

import AngpixCore
import AngpixCompression

/// The formats of model files angpix reads.
public enum ModelFormat: String, Sendable, Codable {
    case pdb
    case mmcif
}

/// Reads models from files.
public enum ModelReader {
    /// Reads the first model of `path`.
    public static func read(path: String) throws -> (model: AtomicModel, format: ModelFormat) {
        let bytes: [UInt8]
        do {
            bytes = try CompressedFile.read(path: path)
        } catch CompressionError.corrupt(_, let format, let reason) {
            throw ModelError.gzip(path: path, reason: format == "gzip" ? reason : "\(format): \(reason)")
        }
        let format = detectFormat(bytes)
        switch format {
        case .pdb:
            return (try PDBReader.parse(bytes, path: path), .pdb)
        case .mmcif:
            return (try MMCIFReader.parse(bytes, path: path), .mmcif)
        }
    }

    /// mmCIF when the first non-blank, non-comment line starts with data_; PDB otherwise.
    public static func detectFormat(_ bytes: [UInt8]) -> ModelFormat {
        var i = 0
        let n = bytes.count
        while i < n {
            while i < n && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D) { i += 1 }
            if i < n && bytes[i] == UInt8(ascii: "#") {
                while i < n && bytes[i] != 0x0A { i += 1 }
                continue
            }
            break
        }
        let prefix = Array(bytes[i..<min(n, i + 5)])
        return String(decoding: prefix, as: UTF8.self).lowercased() == "data_" ? .mmcif : .pdb
    }
}
