// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What the refinements read: the particle table (poses, origins, half sets, images, defocus,
// micrographs, RELION 3.1 optics), the two half maps (from a postprocess.star or given directly),
// the FSC between them, and from it the per-pixel weights of each optics group (RELION 3.1
// CtfRefine: zero below 1/kmin, the FSC where it is ≥ 0.143, zero from the first shell where it
// falls below).

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC
import AngpixFourier
import AngpixOptics

/// One particle's row of the particle table, as the refinements use it.
public struct ParticleRecord: Sendable {
    /// The row in the particle table (0-based).
    public var row: Int
    /// The index of its optics group in `RefineParticles.optics.groups`.
    public var groupIndex: Int
    /// rlnRandomSubset (1 or 2).
    public var randomSubset: Int
    /// rlnMicrographName.
    public var micrographName: String
    /// rlnImageName.
    public var image: ImageName
    /// rlnAngleRot/Tilt/Psi and rlnOriginX/YAngst.
    public var pose: ParticlePose
    /// rlnDefocusU, rlnDefocusV in Å, rlnDefocusAngle in degrees.
    public var defocusU: Double, defocusV: Double, defocusAngle: Double
    /// rlnCtfBfactor (Å²), rlnCtfScalefactor and rlnPhaseShift (degrees), when present.
    public var bFactor: Double, scale: Double, phaseShift: Double
}

/// The particle table of a refinement, checked.
public struct RefineParticles: Sendable {
    /// The file as read (its document is rewritten with the results, losslessly).
    public var file: RelionParticleFile
    /// The particles, in table order.
    public var records: [ParticleRecord]
    /// The optics groups.
    public var optics: OpticsTable { file.optics }

    /// The labels every refinement needs, with who writes them.
    public static let requiredLabels: [(label: String, writer: String)] = [
        ("rlnImageName", "Extract writes it"),
        ("rlnMicrographName", "Extract writes it"),
        ("rlnAngleRot", "Refine3D writes it"),
        ("rlnAngleTilt", "Refine3D writes it"),
        ("rlnAnglePsi", "Refine3D writes it"),
        ("rlnOriginXAngst", "Refine3D writes it"),
        ("rlnOriginYAngst", "Refine3D writes it"),
        ("rlnRandomSubset", "Refine3D writes it: run the refinement on these particles first"),
        ("rlnDefocusU", "CtfFind writes it"),
        ("rlnDefocusV", "CtfFind writes it"),
        ("rlnDefocusAngle", "CtfFind writes it"),
    ]

    /// Reads and checks `path` (a RELION 3.1+ particle STAR file).
    public init(path: String) throws {
        let document = try STARDocument(path: path)
        try self.init(file: RelionParticleFile(document: document, file: path))
    }

    /// Checks a particle file already read.
    public init(file: RelionParticleFile) throws {
        self.file = file
        let name = file.file
        let table = file.particles
        for (label, writer) in Self.requiredLabels where !table.has(label) {
            throw RefineError.missingLabel(file: name, label: label, reason: writer)
        }
        try file.optics.requireCTFOptics(file: name)
        for g in file.optics.groups {
            guard g.imageSize >= 8, g.imageSize % 2 == 0 else {
                throw RefineError.badParticle(file: name, line: g.line, row: 0,
                    reason: "optics group \(g.number) has rlnImageSize \(g.imageSize): the refinement needs an even box of at least 8 pixels")
            }
            guard g.imageDimensionality == 2 else {
                throw RefineError.badParticle(file: name, line: g.line, row: 0,
                    reason: "optics group \(g.number) has rlnImageDimensionality \(g.imageDimensionality); only 2D particles can be refined")
            }
        }
        let groups = try file.opticsGroupIndices()
        let names = try table.strings("rlnImageName")
        let micrographs = try table.strings("rlnMicrographName")
        let rot = try table.doubles("rlnAngleRot"), tilt = try table.doubles("rlnAngleTilt"), psi = try table.doubles("rlnAnglePsi")
        let ox = try table.doubles("rlnOriginXAngst"), oy = try table.doubles("rlnOriginYAngst")
        let subset = try table.ints("rlnRandomSubset")
        let du = try table.doubles("rlnDefocusU"), dv = try table.doubles("rlnDefocusV"), da = try table.doubles("rlnDefocusAngle")
        let bf = table.has("rlnCtfBfactor") ? try table.doubles("rlnCtfBfactor") : nil
        let sc = table.has("rlnCtfScalefactor") ? try table.doubles("rlnCtfScalefactor") : nil
        let ps = table.has("rlnPhaseShift") ? try table.doubles("rlnPhaseShift") : nil
        var records: [ParticleRecord] = []
        records.reserveCapacity(table.rowCount)
        for r in 0..<table.rowCount {
            guard let image = ImageName(names[r]) else {
                throw RefineError.badParticle(file: name, line: table.line(row: r), row: r + 1,
                    reason: "rlnImageName '\(names[r])' is not N@stack.mrcs")
            }
            guard subset[r] == 1 || subset[r] == 2 else {
                throw RefineError.badParticle(file: name, line: table.line(row: r), row: r + 1,
                    reason: "rlnRandomSubset is \(subset[r]), not 1 or 2")
            }
            records.append(ParticleRecord(
                row: r, groupIndex: groups[r], randomSubset: subset[r], micrographName: micrographs[r], image: image,
                pose: ParticlePose(rotDegrees: rot[r], tiltDegrees: tilt[r], psiDegrees: psi[r],
                                   originXAngstrom: ox[r], originYAngstrom: oy[r]),
                defocusU: du[r], defocusV: dv[r], defocusAngle: da[r],
                bFactor: bf?[r] ?? 0, scale: sc?[r] ?? 1, phaseShift: ps?[r] ?? 0))
        }
        self.records = records
    }

    /// The particle rows grouped by micrograph, micrographs sorted by name, rows in table order.
    public func micrographs() -> [(name: String, rows: [Int])] {
        var byName: [String: [Int]] = [:]
        for r in records { byName[r.micrographName, default: []].append(r.row) }
        return byName.keys.sorted().map { ($0, byName[$0]!) }
    }

    /// The CTF parameters of particle `row` with its group's current optics (magnification
    /// `magMatrix` and Zernike terms override the group's when given).
    public func ctfParameters(row: Int, magMatrix: Matrix2x2?? = nil, evenZernike: [Double]? = nil,
                              oddZernike: [Double]? = nil) -> CTFParameters {
        let r = records[row]
        var p = CTFParameters(group: optics.groups[r.groupIndex], defocusU: r.defocusU, defocusV: r.defocusV,
                              defocusAngle: r.defocusAngle, bFactor: r.bFactor, scale: r.scale, phaseShift: r.phaseShift)
        if let m = magMatrix { p.magMatrix = m }
        if let e = evenZernike { p.evenZernike = e }
        if let o = oddZernike { p.oddZernike = o }
        return p
    }
}

/// The file names a postprocess.star records (RELION's PostProcess data_general) and its FSC.
public struct PostprocessReference: Sendable {
    /// rlnUnfilteredMapHalf1 and rlnUnfilteredMapHalf2.
    public var half1: String, half2: String
    /// rlnMaskName, if the PostProcess used a mask.
    public var mask: String?
    /// The FSC by shell (rlnSpectralIndex 0, 1, …): rlnFourierShellCorrelationCorrected when
    /// present, else rlnFourierShellCorrelation (unmasked runs).
    public var fsc: [Double]?

    /// Reads a postprocess.star; relative map names stay relative (to the project folder, as RELION writes them).
    public init(path: String) throws {
        let doc = try STARDocument(path: path)
        guard let general = doc.block("general") else {
            throw RefineError.badPostprocess(path: path, reason: "no data_general block: not a postprocess.star")
        }
        guard let h1 = general.value("rlnUnfilteredMapHalf1"), let h2 = general.value("rlnUnfilteredMapHalf2") else {
            throw RefineError.badPostprocess(path: path,
                reason: "data_general has no rlnUnfilteredMapHalf1/rlnUnfilteredMapHalf2 (give --half1 and --half2 instead)")
        }
        half1 = h1; half2 = h2
        mask = general.value("rlnMaskName")
        fsc = try Self.readFSC(document: doc, path: path)
    }

    /// The FSC column of a postprocess.star's data_fsc table by rlnSpectralIndex, or nil without one.
    public static func readFSC(document: STARDocument, path: String) throws -> [Double]? {
        guard let table = document.block("fsc") else { return nil }
        let label = ["rlnFourierShellCorrelationCorrected", "rlnFourierShellCorrelation"].first { table.has($0) }
        guard let label, table.has("rlnSpectralIndex") else {
            throw RefineError.badPostprocess(path: path, reason: "data_fsc has no rlnSpectralIndex and rlnFourierShellCorrelationCorrected columns")
        }
        let index = try table.ints("rlnSpectralIndex"), values = try table.doubles(label)
        guard let maxIndex = index.max(), maxIndex >= 1, index.allSatisfy({ $0 >= 0 }) else {
            throw RefineError.badPostprocess(path: path, reason: "data_fsc has no shells")
        }
        var fsc = [Double](repeating: 0, count: maxIndex + 1)
        for (i, v) in zip(index, values) { fsc[i] = v }
        return fsc
    }
}

/// The two half maps, their FSC and the projectors made from them.
public struct RefineReference: Sendable {
    /// The half maps' box and voxel size (they agree).
    public var boxSize: Int, pixelSize: Double
    /// The FSC by shell of the reference box (shell i at i / (box · pixelSize) 1/Å).
    public var fsc: [Double]
    /// The projector of half map 1 and of half map 2.
    public var projectors: [ReferenceProjector]

    /// Reads and checks the half maps (and the mask); the FSC comes from `fsc` when given (a
    /// postprocess.star's table), else from the (masked) half maps. `maximumFrequency` (1/Å)
    /// limits what the projectors keep.
    public init(half1: String, half2: String, mask: String?, fsc given: [Double]?,
                maximumFrequency: (_ fsc: [Double], _ box: Int, _ pixelSize: Double) -> Double?) throws {
        let m1 = try Self.readCube(half1), m2 = try Self.readCube(half2)
        guard m1.nx == m2.nx else {
            throw RefineError.badReference(path: half2, reason: "the half maps differ in box: \(m1.nx) voxels in \(half1), \(m2.nx) here")
        }
        guard abs(m1.pixelSize - m2.pixelSize) <= 1e-4 * m1.pixelSize else {
            throw RefineError.badReference(path: half2, reason: "the half maps differ in voxel size: \(formatSignificant(m1.pixelSize)) Å in \(half1), \(formatSignificant(m2.pixelSize)) Å here")
        }
        boxSize = m1.nx
        pixelSize = m1.pixelSize
        var maskMap: MRCMap?
        if let mask {
            let mm = try Self.readCube(mask)
            guard mm.nx == m1.nx, abs(mm.pixelSize - m1.pixelSize) <= 1e-4 * m1.pixelSize else {
                throw RefineError.badReference(path: mask, reason: "the mask (\(mm.nx) voxels at \(formatSignificant(mm.pixelSize)) Å) does not match the half maps (\(m1.nx) voxels at \(formatSignificant(m1.pixelSize)) Å)")
            }
            maskMap = mm
        }
        // The half maps are masked before they are projected, as RELION's ReferenceMap::load
        // does: the solvent's noise would otherwise be in every prediction (and its gradient), while
        // the weights, the masked maps' FSC, assume it is not. With half maps whose unmasked FSC
        // crosses 0.143 at 3 Å, unmasked predictions biased the pixel size by +0.25 %.
        var masked1 = m1, masked2 = m2
        if let maskMap {
            for i in masked1.data.indices { masked1.data[i] *= maskMap.data[i]; masked2.data[i] *= maskMap.data[i] }
        }
        if let given {
            fsc = given
        } else {
            let plan = try RealFFTPlan(shape: [boxSize, boxSize, boxSize])
            fsc = AngpixFourier.fsc(plan.forward(masked1.data), plan.forward(masked2.data), shape: [boxSize, boxSize, boxSize])
        }
        let kmax = maximumFrequency(fsc, boxSize, pixelSize)
        let workspace = ProjectorWorkspace()
        projectors = [try ReferenceProjector(map: masked1, maximumFrequency: kmax, workspace: workspace),
                      try ReferenceProjector(map: masked2, maximumFrequency: kmax, workspace: workspace)]
    }

    static func readCube(_ path: String) throws -> MRCMap {
        let map = try MRCFile.readMap(path: path)
        guard map.nx == map.ny, map.ny == map.nz, map.nx >= 8 else {
            throw RefineError.badReference(path: path, reason: "\(map.nx) × \(map.ny) × \(map.nz) voxels: a half map must be a cube of at least 8 voxels")
        }
        guard map.pixelSize > 0, map.pixelSize.isFinite else {
            throw RefineError.badReference(path: path, reason: "the header's voxel size is \(map.pixelSize) Å")
        }
        return map
    }

    /// The projector for a particle of half set `subset`: the OTHER half map.
    public func projector(forSubset subset: Int) -> ReferenceProjector { projectors[subset == 1 ? 1 : 0] }

    /// The first shell where the FSC falls below 0.143 (the weights are zero from there on).
    public static func cutoffShell(_ fsc: [Double]) -> Int {
        for (i, v) in fsc.enumerated() where i > 0 && v < 0.143 { return i }
        return fsc.count
    }

    /// The frequency (1/Å) where the weights end.
    public static func cutoffFrequency(_ fsc: [Double], box: Int, pixelSize: Double) -> Double {
        Double(cutoffShell(fsc)) / (Double(box) * pixelSize)
    }

    /// The weights of an optics group of box `boxSize` at `pixelSize` Å: zero below 1/`kminAngstrom`,
    /// the FSC (of the shell nearest to |k| on the reference grid) where it is ≥ 0.143, zero from
    /// the first shell below 0.143 on.
    public func weights(boxSize s: Int, pixelSize p: Double, kminAngstrom: Double) -> FrequencyWeights {
        let hx = s / 2 + 1, extent = Double(s) * p, refExtent = Double(boxSize) * pixelSize
        let cutoff = Self.cutoffShell(fsc)
        var w = [Float](repeating: 0, count: s * hx)
        for row in 0..<s {
            let ky = Double(fourierFrequency(row, s)) / extent
            for i in 0..<hx {
                let kx = Double(i) / extent
                let k = (kx * kx + ky * ky).squareRoot()
                if kminAngstrom > 0, k < 1 / kminAngstrom { continue }
                let shell = Int((k * refExtent).rounded())
                guard shell < cutoff, shell < fsc.count else { continue }
                w[row * hx + i] = Float(max(0, fsc[shell]))
            }
        }
        return FrequencyWeights(boxSize: s, values: w)
    }
}
