// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix optics set-magnification`: writing a ring-calibrated magnification matrix into the
// rlnMagMat00…11 of chosen optics groups of a RELION 3.1+ STAR file (data_optics).
//
// Composition. RELION maps an observed frequency k to k' = M k (AngpixOptics/Matrix2x2.swift).
// The ring matrix M_new is a property of the detector, measured on the raw images: it acts on the
// observed coordinates first, turning them into undistorted ones; a matrix already in the file
// (M_existing, e.g. from CtfRefine or a rescaling between groups) relates coordinates to the
// reference and acts after it: k' = M_existing (M_new k), so
//     M_total = M_existing · M_new.
// (Matrices do not commute in general; tests/AngpixRingsTests checks this order on a frequency.)
// A group without rlnMagMat columns counts as M_existing = identity.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

public enum MagnificationWriter {
    /// M_total = M_existing · M_new (see the file header).
    public static func compose(existing: Matrix2x2, new: Matrix2x2) -> Matrix2x2 { existing * new }

    /// One group's change.
    public struct Change: Sendable, Equatable {
        public var group: Int
        public var before: Matrix2x2
        public var after: Matrix2x2
    }

    /// Reads the matrix of a `calibrate rings` JSON result (its "magMatrix") and its nominal pixel size.
    public static func matrix(fromResult path: String) throws -> (Matrix2x2, Double?) {
        guard let data = FileManager.default.contents(atPath: path) else { throw CoreError.fileNotFound(path: path) }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let m = obj["magMatrix"] as? [String: Any],
              let a = m["m00"] as? Double, let b = m["m01"] as? Double, let c = m["m10"] as? Double, let d = m["m11"] as? Double else {
            throw RingsError.badResultFile(path: path, reason: "not a `calibrate rings` result (no magMatrix with m00, m01, m10, m11)")
        }
        return (Matrix2x2(a, b, c, d), obj["nominalPixelSize"] as? Double)
    }

    /// Composes `matrix` into the groups `groups` (all if nil) of `document`'s data_optics.
    public static func apply(_ matrix: Matrix2x2, to document: STARDocument, file: String, groups: [Int]?) throws -> [Change] {
        guard [matrix.m00, matrix.m01, matrix.m10, matrix.m11].allSatisfy(\.isFinite), matrix.inverse != nil else {
            throw RingsError.invalidOption("the magnification matrix must be finite and invertible")
        }
        guard let block = document.block("optics") else {
            throw RingsError.badResultFile(path: file, reason: "no data_optics block (a RELION 3.1+ STAR file is needed)")
        }
        let table = try OpticsTable(block: block, file: file)
        if let groups {
            for g in groups where table.group(g) == nil {
                throw RingsError.badResultFile(path: file, reason: "no optics group \(g) (groups: \(table.groups.map { String($0.number) }.joined(separator: ", ")))")
            }
        }
        var changes: [Change] = []
        var cols = [[String]](repeating: [], count: 4)
        for g in table.groups {
            let before = g.magMatrix.map(Matrix2x2.init) ?? .identity
            let selected = groups?.contains(g.number) ?? true
            let after = selected ? compose(existing: before, new: matrix) : before
            if selected { changes.append(Change(group: g.number, before: before, after: after)) }
            for (i, v) in [after.m00, after.m01, after.m10, after.m11].enumerated() { cols[i].append(String(format: "%.6f", v)) }
        }
        for (i, label) in ["rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11"].enumerated() {
            block.setColumn(label, cols[i])
        }
        return changes
    }
}
