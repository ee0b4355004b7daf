// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Writing a post-processing run's files into an output folder, with RELION's names:
// postprocess.mrc (sharpened), postprocess_masked.mrc (sharpened × mask), postprocess.star,
// postprocess_fsc.xml. Every file is written atomically; all destinations are checked against
// the output policy before anything is written, so a refused run leaves nothing behind.

import Foundation
import AngpixCore
import AngpixMRC

/// The files a run writes.
public struct PostprocessFiles: Sendable, Codable {
    public var map: String
    public var maskedMap: String?
    public var star: String
    public var fscXML: String
}

extension PostprocessResult {
    /// Writes the maps, postprocess.star and postprocess_fsc.xml into `directory` (created if needed).
    public func write(to directory: String, inputs: PostprocessInputNames, commandLine: String,
                      policy: OutputPolicy) throws -> PostprocessFiles {
        let dir = directory.isEmpty ? "." : directory
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            if !isDir.boolValue { throw CoreError.cannotWrite(path: dir, reason: "exists and is not a folder") }
        } else {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            catch { throw CoreError.cannotWrite(path: dir, reason: "cannot create the folder: \(error.localizedDescription)") }
        }
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        let files = PostprocessFiles(map: path("postprocess.mrc"),
                                     maskedMap: maskedMap == nil ? nil : path("postprocess_masked.mrc"),
                                     star: path("postprocess.star"), fscXML: path("postprocess_fsc.xml"))
        for p in [files.map, files.star, files.fscXML] + (files.maskedMap.map { [$0] } ?? []) {
            try policy.check(p)
        }
        try MRCFile.write(map, to: files.map, policy: policy)
        if let m = maskedMap, let p = files.maskedMap { try MRCFile.write(m, to: p, policy: policy) }
        try writeFileAtomically(starText(inputs: inputs, commandLine: commandLine), to: files.star, policy: policy)
        try writeFileAtomically(fscXML(), to: files.fscXML, policy: policy)
        return files
    }
}
