// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors shown to a user. Every module has its own error enum; each case prints as one line,
// naming the file, the line or record where known, and the reason:
//   particles.star:1234: row has 25 values, the table has 26 columns

import Foundation

/// An error that angpix reports to a user as one line of text.
///
/// Each module defines its own enum conforming to this protocol; `description` is the line the
/// command-line program prints after `error: `.
public protocol AngpixError: Error, CustomStringConvertible, Sendable {}

/// Errors of the shared core: file access and atomic output.
public enum CoreError: AngpixError, Equatable {
    case fileNotFound(path: String)
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case outputExists(path: String)
    case outputIsInput(path: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such file"
        case .cannotRead(let path, let reason): return "\(path): cannot read: \(reason)"
        case .cannotWrite(let path, let reason): return "\(path): cannot write: \(reason)"
        case .outputExists(let path): return "\(path): already exists (use --force to overwrite it)"
        case .outputIsInput(let path): return "\(path): the output would overwrite an input"
        case .invalidArgument(let message): return message
        }
    }
}

/// The C library's description of an `errno` value.
public func systemErrorDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}
