// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the Calibration module, each one line for the user.

import AngpixCore

/// Why a calibration could not be run.
public enum CalibrationError: AngpixError, Equatable {
    case modelOutsideMap(inside: Int, total: Int)
    case invalidRange(String)
    case emptyMask
    case flatMap(String)

    public var description: String {
        switch self {
        case .modelOutsideMap(let inside, let total):
            return "only \(inside) of \(total) atoms lie inside the map: fit the model into the map first (same coordinate frame, map origin from the header)"
        case .invalidRange(let message): return message
        case .emptyMask: return "the mask around the atoms (or the reference's density) is empty"
        case .flatMap(let what): return "\(what) is constant inside the mask: nothing to correlate"
        }
    }
}
