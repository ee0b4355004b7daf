// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the particle simulator (`angpix simulate particles`); each prints as one line.

import AngpixCore

/// Why a particle set could not be simulated.
public enum ParticleSimulationError: AngpixError, Equatable {
    /// A group's settings are unusable.
    case invalidGroup(group: Int, name: String, reason: String)
    /// The map to project is unusable.
    case invalidReference(String)
    /// Other settings are unusable.
    case invalidSettings(String)
    /// The output folder exists and is not empty (and --force was not given).
    case outputNotEmpty(path: String)

    public var description: String {
        switch self {
        case .invalidGroup(let g, let name, let reason):
            return "optics group \(g) (\(name)): \(reason)"
        case .invalidReference(let reason):
            return "reference map: \(reason)"
        case .invalidSettings(let reason):
            return reason
        case .outputNotEmpty(let path):
            return "\(path): the output folder exists and is not empty; choose another or give --force"
        }
    }
}
