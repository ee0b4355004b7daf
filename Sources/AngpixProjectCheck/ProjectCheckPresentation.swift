// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The findings of a project check for people: text for a terminal (one block per finding, wrapped
// to 100 columns) and an HTML page (what was looked at, then one box per finding), as
// `angpix check` prints and writes them.

import Foundation
import AngpixCore
import AngpixReport
import AngpixOptics

extension ProjectCheckReport {
    /// The findings as text for a terminal, ending with a count of errors, warnings and notes.
    public var text: String {
        var out = ""
        for line in checked { out += wrapWords("checked \(line)", indent: "    ") }
        if !checked.isEmpty { out += "\n" }
        for f in findings {
            out += wrapWords("\(f.severity.rawValue.uppercased()) [\(f.code.rawValue)] \(f.problem)", indent: "  ")
            out += wrapWords(f.files.joined(separator: ", "), prefix: "  files: ", indent: "         ")
            out += wrapWords(f.why, prefix: "  why:   ", indent: "         ")
            out += wrapWords(f.action, prefix: "  do:    ", indent: "         ")
            out += "  for:   \(RelionVersion.names(f.relion))\n"
            out += "\n"
        }
        let e = count(.error), w = count(.warning), i = count(.info)
        if findings.isEmpty {
            out += "No pixel-size problems found.\n"
        } else {
            out += "\(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s"), \(i) note\(i == 1 ? "" : "s")"
            out += serious ? ": something serious was found (exit status 1).\n" : ": nothing serious.\n"
        }
        return out
    }

    /// The HTML page of the check: a title and summary, what was looked at, then the findings.
    public func htmlPage() throws -> HTMLPage {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var value = try parseHTMLJSON(try encoder.encode(self))
        if case .object(var members) = value {
            members.removeAll { $0.key == "serious" }
            members.insert(HTMLJSONMember("title", .string("Project check")), at: 0)
            let e = count(.error), w = count(.warning)
            members.insert(HTMLJSONMember("summary", .string(findings.isEmpty ? "No pixel-size problems found."
                : "\(e) error\(e == 1 ? "" : "s") and \(w) warning\(w == 1 ? "" : "s"): \(serious ? "something serious was found." : "nothing serious.")")), at: 1)
            value = .object(members)
        }
        return HTMLPage(title: "angpix check", subtitle: checked.first,
                        sections: [HTMLDirectoryReport.section(from: value, name: "check")],
                        footer: "Made by angpix check.")
    }
}

/// Wraps `text` at word boundaries to `width` columns after `prefix`; continuation lines start
/// with `indent`. Ends with a newline.
func wrapWords(_ text: String, prefix: String = "", width: Int = 100, indent: String) -> String {
    var lines: [String] = []
    var current = prefix
    for word in text.split(separator: " ") {
        if current.count > prefix.count && current.count + 1 + word.count > width {
            lines.append(current)
            current = indent + word
        } else {
            current += (current.count > prefix.count ? " " : "") + word
        }
    }
    lines.append(current)
    return lines.joined(separator: "\n") + "\n"
}
