// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the Fourier module (invalid transform shapes and mismatched spectrum sizes).

import AngpixCore

/// Errors thrown by FFT plans and Fourier-space helpers.
public enum FourierError: AngpixError, Equatable {
    /// A transform shape that is empty or has a non-positive size.
    case invalidShape([Int])
    /// An array whose length does not match the shape it is used with.
    case sizeMismatch(expected: Int, got: Int, what: String)

    public var description: String {
        switch self {
        case .invalidShape(let s):
            return "invalid FFT shape \(s): need 1 or more dimensions, each of size 1 or more"
        case .sizeMismatch(let e, let g, let what):
            return "\(what): expected \(e) values, got \(g)"
        }
    }
}
