// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the STAR engine. Each prints as one line naming the file, the line where known, and
// the reason, e.g. `particles.star:1234: row has 25 values, the table has 26 columns`.

import AngpixCore

/// A problem with a STAR file's syntax or with its content as RELION understands it.
public enum STARError: AngpixError, Equatable {
    /// The text does not follow STAR syntax (bad row, unterminated quote, repeated label, ...).
    case syntax(file: String, line: Int, reason: String)
    /// A value cannot be read as the type its column needs.
    case badValue(file: String, line: Int?, label: String, value: String, expected: String)
    /// A block the operation needs is absent.
    case missingBlock(file: String, block: String)
    /// A column the operation needs is absent.
    case missingLabel(file: String, block: String, label: String)
    /// The content is valid STAR but wrong for the operation (line when known).
    case invalid(file: String, line: Int?, reason: String)

    public var description: String {
        switch self {
        case .syntax(let file, let line, let reason):
            return "\(file):\(line): \(reason)"
        case .badValue(let file, let line, let label, let value, let expected):
            let place = line.map { "\(file):\($0)" } ?? file
            return "\(place): \(label) value '\(value)' is not \(expected)"
        case .missingBlock(let file, let block):
            return "\(file): no data_\(block) block"
        case .missingLabel(let file, let block, let label):
            return "\(file): data_\(block) has no _\(label) column"
        case .invalid(let file, let line, let reason):
            let place = line.map { "\(file):\($0)" } ?? file
            return "\(place): \(reason)"
        }
    }
}
