// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the Optics module: each case prints as one line naming the input and the reason.

import Foundation
import AngpixCore

/// A failure of an optics computation or of reading optics from a STAR file.
public enum OpticsError: AngpixError, Equatable {
    /// A parameter is outside its meaningful range (name, value, what is required).
    case invalidParameter(String, Double, String)
    /// An optics group lacks what a computation needs (file, group number, reason).
    case group(file: String, group: Int, reason: String)
    /// A file lacks a data block (file, block).
    case missingBlock(file: String, block: String)
    /// A fit could not be made (reason).
    case fitFailed(String)
    /// Anything else about an input file (file, reason).
    case input(file: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, requirement):
            return "\(name) = \(formatSignificant(value)): \(requirement)"
        case let .group(file, group, reason):
            return "\(file): optics group \(group): \(reason)"
        case let .missingBlock(file, block):
            return "\(file): no data_\(block) block"
        case let .fitFailed(reason):
            return "fit failed: \(reason)"
        case let .input(file, reason):
            return "\(file): \(reason)"
        }
    }
}
