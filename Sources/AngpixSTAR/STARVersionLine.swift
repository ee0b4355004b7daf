// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The `# version N` comment RELION writes before every table of a STAR file (30001 from RELION 3.1
// and 4, 50001 from RELION 5). It is a comment, so the STAR reader skips it; this reads it from the
// first bytes of the file to tell which RELION wrote the file.

import Foundation

/// The version number of the first `# version N` line of a STAR file, if there is one.
public enum STARVersionLine {
    /// Reads the first 64 KiB of `path` and returns N of its first `# version N` line (nil when
    /// there is none or the file cannot be read: the version is only a hint).
    public static func read(path: String) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 65536) else { return nil }
        return parse(String(decoding: data, as: UTF8.self))
    }

    /// N of the first line `# version N` of `text`.
    public static func parse(_ text: String) -> Int? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("#") else { continue }
            let words = t.dropFirst().split(separator: " ", omittingEmptySubsequences: true)
            if words.count == 2, words[0] == "version", let n = Int(words[1]) { return n }
        }
        return nil
    }
}
