// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Shard files of any refinement: their names (refine_shardIIIofNNN.json), and finding, decoding
// and checking the shards of one run in a set of folders (all of 1…N present, none twice, all from
// the same run), so that `--merge` can add or concatenate them.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

/// What every refinement's shard file records about its run, so that shards can be matched.
public protocol RefineShardFile: Decodable {
    /// The particle file the shard was made from.
    var input: String { get }
    /// The number of particles in that file.
    var particleCount: Int { get }
    /// Shard I of N (1-based).
    var shard: Int { get }
    var shardCount: Int { get }
    /// What else must agree between the shards of one run (options), as text.
    var runKey: String { get }
}

/// Shard file names and loading.
public enum RefineShards {
    /// The file name of shard `shard` of `count`: refine_shardIIIofNNN.json.
    public static func fileName(shard: Int, count: Int) -> String {
        func pad(_ v: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, 3 - s.count)) + s }
        return "refine_shard\(pad(shard))of\(pad(count)).json"
    }

    /// The shards 1…N of one run found in `directories`, in order, with their paths; `command`
    /// names the command for the error of a file that is not one of its shards.
    public static func load<T: RefineShardFile>(_ type: T.Type, directories: [String], command: String) throws -> [(path: String, shard: T)] {
        var shards: [Int: (path: String, shard: T)] = [:]
        for dir in directories {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for name in names.sorted() where name.hasPrefix("refine_shard") && name.hasSuffix(".json") {
                let path = (dir as NSString).appendingPathComponent(name)
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw RefineError.badShard(path: path, reason: "cannot read: \(error.localizedDescription)")
                }
                let shard: T
                do { shard = try JSONDecoder().decode(T.self, from: data) } catch {
                    throw RefineError.badShard(path: path, reason: "not a partial-results file of \(command) (\(error))")
                }
                if let first = shards.values.first {
                    guard first.shard.input == shard.input, first.shard.shardCount == shard.shardCount,
                          first.shard.particleCount == shard.particleCount, first.shard.runKey == shard.runKey else {
                        throw RefineError.badShard(path: path, reason: "belongs to another run (input \(shard.input), \(shard.shardCount) shards, \(shard.runKey)) than \(first.path)")
                    }
                }
                if let other = shards[shard.shard] {
                    throw RefineError.badShard(path: path, reason: "shard \(shard.shard) is also in \(other.path)")
                }
                shards[shard.shard] = (path, shard)
            }
        }
        guard let any = shards.values.first else {
            throw RefineError.badShard(path: directories.joined(separator: ", "), reason: "no refine_shard*.json files to merge")
        }
        let n = any.shard.shardCount
        let missing = (1...n).filter { shards[$0] == nil }
        guard missing.isEmpty else {
            throw RefineError.badShard(path: directories.joined(separator: ", "),
                                       reason: "shards \(missing.map(String.init).joined(separator: ", ")) of \(n) are missing")
        }
        return (1...n).map { shards[$0]! }
    }

    /// Creates `path` (and its parents).
    public static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw CoreError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }
}

/// The group's current odd Zernike terms with its rlnBeamTiltX/Y inserted, as RELION 3.1's
/// observation model combines them (the tilt is part of the odd phase the CTF applies).
public func currentOddZernike(_ g: OpticsGroup) -> [Double] {
    let tx = g.values["rlnBeamTiltX"].flatMap(Double.init) ?? 0
    let ty = g.values["rlnBeamTiltY"].flatMap(Double.init) ?? 0
    guard tx != 0 || ty != 0, g.sphericalAberration != 0 else { return g.oddZernike }
    return BeamTilt.insert(tiltX: tx, tiltY: ty, into: g.oddZernike, sphericalAberration: g.sphericalAberration,
                           wavelength: electronWavelength(kilovolts: g.voltage))
}
