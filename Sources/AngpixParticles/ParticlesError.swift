// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the Particles module (rescaling whole particle sets). Each prints as one line naming
// the file and the record (particle row, stack, shard file) and the reason.

import AngpixCore

/// Why a particle set could not be rescaled or its shards merged.
public enum ParticlesError: AngpixError, Equatable {
    /// The STAR file has no data_optics block (RELION 3.0 style).
    case noOpticsTable(file: String)
    /// The STAR file has no particle table with rlnImageName.
    case noParticles(file: String, reason: String)
    /// A particle row is unusable: bad image name, unknown optics group…
    case badRecord(file: String, row: Int, reason: String)
    /// An optics group is unusable (3D images, non-positive pixel size…).
    case badOpticsGroup(file: String, group: Int, reason: String)
    /// `--group` names a group that is not in the optics table.
    case unknownGroup(file: String, group: String)
    /// A referenced stack is missing or does not match the STAR file.
    case badStack(stack: String, file: String, row: Int, reason: String)
    /// Two stacks would be written to the same output path.
    case outputCollision(first: String, second: String, output: String)
    /// The output folder holds a run with other parameters (use --force).
    case differentRun(folder: String, reason: String)
    /// An output exists that angpix did not write (use --force).
    case foreignOutput(path: String)
    /// The shard files of a sharded run are incomplete or inconsistent.
    case badShards(folder: String, reason: String)
    /// A command-line value is out of range.
    case invalidOption(String)

    public var description: String {
        switch self {
        case .noOpticsTable(let file):
            return "\(file): no data_optics table (RELION 3.0 format); upgrade it first "
                + "(relion_convert_star --i IN --o OUT)"
        case .noParticles(let file, let reason):
            return "\(file): \(reason)"
        case .badRecord(let file, let row, let reason):
            return "\(file): particle \(row): \(reason)"
        case .badOpticsGroup(let file, let group, let reason):
            return "\(file): optics group \(group): \(reason)"
        case .unknownGroup(let file, let group):
            return "\(file): --group \(group): no such optics group"
        case .badStack(let stack, let file, let row, let reason):
            return "\(stack): \(reason) (referenced by \(file), particle \(row))"
        case .outputCollision(let first, let second, let output):
            return "stacks \(first) and \(second) would both be written to \(output)"
        case .differentRun(let folder, let reason):
            return "\(folder): holds a run with other parameters (\(reason)); use --force to redo it"
        case .foreignOutput(let path):
            return "\(path): exists and was not written by angpix (use --force to overwrite it)"
        case .badShards(let folder, let reason):
            return "\(folder): \(reason)"
        case .invalidOption(let message):
            return message
        }
    }
}
