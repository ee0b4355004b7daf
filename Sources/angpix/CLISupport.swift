// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What every command shares: the progress line on stderr, JSON printing, and `--jobs`.

import Foundation
import AngpixCore

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Prints a warning line on standard error.
func warn(_ text: String) {
    printError("warning: \(text)")
}

/// A progress line on standard error, shown only when standard error is a terminal.
final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let unit: String
    private let enabled: Bool
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let lock = NSLock()

    init(_ label: String, unit: String = "items") {
        self.label = label
        self.unit = unit
        enabled = isatty(2) != 0
    }

    /// Reports `done` of `total`; prints at most a few times a second.
    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastPrint) > 0.2 || done == total else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        let percent = total > 0 ? 100.0 * Double(done) / Double(total) : 100
        let line = String(format: "\r%@: %d/%d %@ (%.0f%%), %.0f %@/s, %.0f s left   ",
                          label, done, total, unit, percent, rate, unit, left)
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// The handler to pass to library calls.
    var handler: ProgressHandler { { [self] d, t in update(d, t) } }

    /// Ends the line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Encodes `value` as pretty JSON with sorted keys and prints it.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}
