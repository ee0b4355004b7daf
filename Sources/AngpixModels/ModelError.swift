// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Errors of the Models module: each prints as one line naming the file, the line and the reason.

import AngpixCore

/// Why a model could not be read or a model map could not be made.
public enum ModelError: AngpixError, Equatable {
    case noAtoms(path: String)
    case badCoordinate(path: String, line: Int, text: String)
    case badNumber(path: String, line: Int, field: String, text: String)
    case unknownElement(path: String, line: Int, atomName: String)
    case gzip(path: String, reason: String)
    case missingColumn(path: String, label: String)
    /// Elements without a scattering factor; `path`/`line`/`atomName` locate the first such atom
    /// (path nil when the atoms did not come from a file).
    case noScatteringFactors(elements: [String], path: String? = nil, line: Int = 0, atomName: String = "")
    case invalidGrid(String)

    public var description: String {
        switch self {
        case .noAtoms(let path):
            return "\(path): no ATOM/HETATM records (or _atom_site rows) found: not an atomic model"
        case .badCoordinate(let path, let line, let text):
            return "\(path):\(line): cannot read the coordinates \"\(text)\""
        case .badNumber(let path, let line, let field, let text):
            return "\(path):\(line): cannot read the \(field) \"\(text)\""
        case .unknownElement(let path, let line, let atomName):
            return "\(path):\(line): no element symbol and none can be derived from the atom name \"\(atomName)\""
        case .gzip(let path, let reason):
            return "\(path): cannot decompress: \(reason)"
        case .missingColumn(let path, let label):
            return "\(path): the _atom_site table has no \(label) column"
        case .noScatteringFactors(let elements, let path, let line, let atomName):
            var place = ""
            if let path { place = line > 0 ? "\(path):\(line): " : "\(path): " }
            let first = atomName.isEmpty ? "" : " (first: atom \"\(atomName)\")"
            return place + "no electron scattering factors (Peng et al. 1996, H to Bi) for element(s) "
                + "\(elements.joined(separator: ", "))\(first) in angpix's table; "
                + "remove those atoms or pass --skip-unknown-elements"
        case .invalidGrid(let message):
            return message
        }
    }
}
