// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the optics refinements, each one line naming the file, the row and the reason.

import AngpixCore

/// Why a refinement cannot run on its inputs.
public enum RefineError: AngpixError, Equatable {
    /// A half map, mask or reference that cannot be used.
    case badReference(path: String, reason: String)
    /// The particle table lacks a label the refinement needs.
    case missingLabel(file: String, label: String, reason: String)
    /// A particle row whose values cannot be used (row is 1-based in the particle table).
    case badParticle(file: String, line: Int?, row: Int, reason: String)
    /// A particle's stack or image that cannot be read.
    case badImage(file: String, line: Int?, row: Int, stack: String, reason: String)
    /// A postprocess.star or FSC table that cannot be used.
    case badPostprocess(path: String, reason: String)
    /// A partial-sums (shard) file that cannot be used.
    case badShard(path: String, reason: String)
    /// An option value or combination that cannot work.
    case invalidOption(String)

    public var description: String {
        switch self {
        case .badReference(let path, let reason):
            return path.isEmpty ? reason : "\(path): \(reason)"
        case .missingLabel(let file, let label, let reason):
            return "\(file): the particles have no \(label) column (\(reason))"
        case .badParticle(let file, let line, let row, let reason):
            return "\(file)\(line.map { ":\($0)" } ?? ""): particle \(row): \(reason)"
        case .badImage(let file, let line, let row, let stack, let reason):
            return "\(file)\(line.map { ":\($0)" } ?? ""): particle \(row): \(stack): \(reason)"
        case .badPostprocess(let path, let reason):
            return "\(path): \(reason)"
        case .badShard(let path, let reason):
            return "\(path): \(reason)"
        case .invalidOption(let message):
            return message
        }
    }
}
