// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Bridges from the STARFile module's RELION model (data_optics rows) to the optics computations:
// the magnification matrix type, the inputs of the optics trace and of the Z40 calibration.

import AngpixSTAR

extension Matrix2x2 {
    /// The matrix of rlnMagMat00…11.
    public init(_ m: MagnificationMatrix) { self.init(m.m00, m.m01, m.m10, m.m11) }
}

extension TraceGroupInput {
    /// The trace input of one data_optics row.
    public init(_ g: OpticsGroup) {
        self.init(number: g.number, name: g.name, pixelSize: g.imagePixelSize, magMatrix: g.magMatrix.map(Matrix2x2.init),
                  imageSize: g.imageSize > 0 ? g.imageSize : nil)
    }
}

extension ZernikeCalibration {
    /// Calibrates every group of an optics table; a group without an rlnEvenZernike column value
    /// (or with too few coefficients) gets a `problem` instead of numbers.
    public static func calibrate(table: OpticsTable, csTrue: Double, file: String) throws -> [ZernikeCalibration] {
        try table.requireCTFOptics(file: file)
        return try table.groups.map { g in
            let hasColumn = g.values["rlnEvenZernike"] != nil
            let where_ = g.line.map { "\(file):\($0)" } ?? file
            return try calibrate(opticsGroup: g.number, name: g.name, nominalPixelSize: g.imagePixelSize,
                                 voltage: g.voltage, csNominal: g.sphericalAberration,
                                 evenZernike: hasColumn ? g.evenZernike : nil, csTrue: csTrue, file: where_)
        }
    }
}

extension CTFParameters {
    /// The CTF of a particle: its defocus, astigmatism, B-factor, scale and phase shift with the
    /// optics of its group (voltage, Cs, Q0, Zernike terms, magnification), as RELION's
    /// CTF::readByGroup combines them.
    public init(group g: OpticsGroup, defocusU: Double, defocusV: Double, defocusAngle: Double,
                bFactor: Double = 0, scale: Double = 1, phaseShift: Double = 0) {
        self.init(defocusU: defocusU, defocusV: defocusV, defocusAngle: defocusAngle, voltage: g.voltage,
                  sphericalAberration: g.sphericalAberration, amplitudeContrast: g.amplitudeContrast,
                  phaseShift: phaseShift, bFactor: bFactor, scale: scale, evenZernike: g.evenZernike,
                  oddZernike: g.oddZernike, magMatrix: g.magMatrix.map(Matrix2x2.init))
    }
}
