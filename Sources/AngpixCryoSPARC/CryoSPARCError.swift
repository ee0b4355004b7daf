// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the cryoSPARC module: reading NumPy .npy / cryoSPARC .cs files and converting them to
// RELION STAR files. Each prints as one line naming the file and, where known, the record
// (0-based row of the array, as cryoSPARC and NumPy count) or the field.

import AngpixCore

public enum CryoSPARCError: AngpixError, Equatable {
    /// The file is not a well-formed .npy file (magic, version, header length, truncation).
    case notNPY(file: String, reason: String)
    /// The header dictionary does not parse or lacks a key.
    case badHeader(file: String, reason: String)
    /// A dtype that angpix does not read (object fields, unknown codes, sub-arrays of structured types...).
    case unsupportedType(file: String, field: String, reason: String)
    /// A field the conversion needs is missing or has the wrong shape.
    case badField(file: String, field: String, reason: String)
    /// A value of one record cannot be used.
    case badRecord(file: String, row: Int, reason: String)
    /// A passthrough file does not describe the same particles.
    case passthrough(file: String, reason: String)

    public var description: String {
        switch self {
        case .notNPY(let file, let reason): return "\(file): not a NumPy .npy/.cs file: \(reason)"
        case .badHeader(let file, let reason): return "\(file): bad .npy header: \(reason)"
        case .unsupportedType(let file, let field, let reason): return "\(file): field '\(field)': \(reason)"
        case .badField(let file, let field, let reason): return "\(file): field '\(field)': \(reason)"
        case .badRecord(let file, let row, let reason): return "\(file): record \(row): \(reason)"
        case .passthrough(let file, let reason): return "\(file): passthrough file: \(reason)"
        }
    }
}
