// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Model maps: the electrostatic potential of an atomic model sampled on a voxel grid.
// Each atom is the sum of five 3D Gaussians (the analytic inverse Fourier transform of its Peng et
// al. 1996 scattering factor times its Debye-Waller factor exp(-(B_atom + B_overall) s²), see
// ScatteringFactors.swift), scaled by its occupancy, and evaluated at voxel centres within a cutoff
// radius around the atom (where its widest Gaussian has fallen to 10⁻³ of its peak). A low-pass at a
// resolution R is a Gaussian one: an extra B = 4 ln2 R², which halves the amplitude at 1/R.
// The Gaussians are separable, so each atom costs 3×5 short exp() tables and 5 multiply-adds per
// voxel; the grid is split into z-slabs rendered in parallel.

import AngpixCore
import Foundation

/// A voxel grid in space: voxel (i, j, k) sits at origin + pixelSize·(i, j, k) Å.
public struct MapGrid: Sendable, Equatable {
    public var nx: Int, ny: Int, nz: Int
    /// Voxel size (Å).
    public var pixelSize: Double
    /// Position of voxel (0, 0, 0) (Å).
    public var origin: SIMD3<Double>

    public init(nx: Int, ny: Int, nz: Int, pixelSize: Double, origin: SIMD3<Double> = .zero) {
        self.nx = nx; self.ny = ny; self.nz = nz; self.pixelSize = pixelSize; self.origin = origin
    }

    public var count: Int { nx * ny * nz }

    /// A cubic grid of `size` voxels centred on `centre` (Å).
    public static func centred(on centre: SIMD3<Double>, size: Int, pixelSize: Double) -> MapGrid {
        let half = Double(size / 2) * pixelSize
        return MapGrid(nx: size, ny: size, nz: size, pixelSize: pixelSize, origin: centre - SIMD3(repeating: half))
    }
}

/// How a model map is made.
public struct ModelMapSettings: Sendable {
    /// B-factor added to every atom (Å²).
    public var overallBFactor: Double = 0
    /// Gaussian low-pass at this resolution (Å), or none.
    public var resolution: Double? = nil
    /// Leave out atoms whose element has no scattering factor instead of failing.
    public var skipUnknownElements: Bool = false
    /// Density fraction (of the widest Gaussian's peak) at the cutoff radius.
    public var cutoffFraction: Double = 1e-3

    public init(overallBFactor: Double = 0, resolution: Double? = nil, skipUnknownElements: Bool = false) {
        self.overallBFactor = overallBFactor
        self.resolution = resolution
        self.skipUnknownElements = skipUnknownElements
    }

    /// The B-factor (Å²) of the Gaussian low-pass at resolution `r` (Å): amplitude 1/2 at 1/r.
    public static func lowPassBFactor(resolution r: Double) -> Double { 4 * log(2.0) * r * r }

    /// Overall B plus the low-pass B.
    public var extraBFactor: Double {
        overallBFactor + (resolution.map { ModelMapSettings.lowPassBFactor(resolution: $0) } ?? 0)
    }
}

/// Atoms prepared for rendering: the five Gaussians of each atom's element, its B and occupancy.
public struct DensityAtoms: Sendable {
    /// Number of Gaussians per atom.
    public static let terms = 5
    /// a_i·occupancy per atom (count × 5, Å).
    public var amplitudes: [Double]
    /// b_i + B_atom per atom (count × 5, Å²), before any extra B.
    public var widths: [Double]
    /// Atom positions (Å).
    public var positions: [SIMD3<Double>]
    /// Elements left out (no scattering factor) and how many atoms each.
    public var skipped: [String: Int]

    public var count: Int { positions.count }

    /// Prepares `atoms`; throws `ModelError.noScatteringFactors` for elements missing from the table
    /// unless `skipUnknownElements`; `path` (the model's file) is named in that error.
    public init(atoms: [Atom], skipUnknownElements: Bool = false, path: String? = nil) throws {
        var factors: [String: ScatteringFactor] = [:]
        var missing: [String: Int] = [:]
        var firstMissing: Atom?
        amplitudes = []; widths = []; positions = []
        amplitudes.reserveCapacity(atoms.count * 5); widths.reserveCapacity(atoms.count * 5)
        positions.reserveCapacity(atoms.count)
        for atom in atoms {
            let f: ScatteringFactor
            if let known = factors[atom.element] {
                f = known
            } else if let found = ScatteringFactor(element: atom.element) {
                factors[atom.element] = found
                f = found
            } else {
                missing[atom.element, default: 0] += 1
                if firstMissing == nil { firstMissing = atom }
                continue
            }
            guard atom.occupancy > 0 else { continue }
            for i in 0..<DensityAtoms.terms {
                amplitudes.append(f.a[i] * atom.occupancy)
                widths.append(f.b[i] + max(0, atom.bFactor))
            }
            positions.append(SIMD3(atom.x, atom.y, atom.z))
        }
        if !missing.isEmpty && !skipUnknownElements {
            throw ModelError.noScatteringFactors(elements: missing.keys.sorted(), path: path,
                                                 line: firstMissing?.line ?? 0, atomName: firstMissing?.name ?? "")
        }
        skipped = missing
    }
}

/// A box of voxels inside a larger grid: `lower` is its first voxel, `size` its extent.
public struct VoxelBox: Sendable, Equatable {
    public var lower: SIMD3<Int>
    public var size: SIMD3<Int>
    public init(lower: SIMD3<Int>, size: SIMD3<Int>) { self.lower = lower; self.size = size }
    public var count: Int { size.x * size.y * size.z }
}

/// Renders prepared atoms onto voxel boxes.
public enum DensityRenderer {
    /// Adds the density of `atoms` to `output` (a box of `box.size`, x fastest), with atom `j` at
    /// voxel coordinates `voxelPositions[j]` (in the coordinates of the full grid; the box covers
    /// `box.lower ..< box.lower + box.size`), on voxels of `pixelSize` Å, with `extraB` (Å²)
    /// added to every atom. The density is in Å⁻² (f in Å per Å³).
    public static func render(atoms: DensityAtoms, voxelPositions: [SIMD3<Double>], pixelSize: Double,
                              extraB: Double, box: VoxelBox, cutoffFraction: Double = 1e-3,
                              into output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count >= box.count && voxelPositions.count == atoms.count)
        let n = atoms.count
        if n == 0 || box.count == 0 { return }
        let terms = DensityAtoms.terms
        let logInv = log(1 / cutoffFraction)
        let p2 = pixelSize * pixelSize
        // Per-atom Gaussian constants in voxel units and cutoff radius (voxels).
        var amp = [Float](repeating: 0, count: n * terms)
        var kv = [Float](repeating: 0, count: n * terms)
        var radius = [Double](repeating: 0, count: n)
        for j in 0..<n {
            var wmax = 0.0
            for i in 0..<terms {
                let w = max(atoms.widths[j * terms + i] + extraB, 1e-3)
                wmax = max(wmax, w)
                amp[j * terms + i] = Float(atoms.amplitudes[j * terms + i] * pow(4 * Double.pi / w, 1.5))
                kv[j * terms + i] = Float(4 * Double.pi * Double.pi * p2 / w)
            }
            radius[j] = (wmax * logInv).squareRoot() / (2 * Double.pi) / pixelSize
        }
        // Bucket atoms by z-slab.
        let slabs = min(box.size.z, max(1, Parallelism.jobs * 4))
        let ranges = splitRange(box.size.z, into: slabs)
        var members = [[Int32]](repeating: [], count: ranges.count)
        let z0 = Double(box.lower.z)
        for j in 0..<n {
            let lo = Int((voxelPositions[j].z - radius[j] - z0).rounded(.up))
            let hi = Int((voxelPositions[j].z + radius[j] - z0).rounded(.down))
            if hi < 0 || lo >= box.size.z { continue }
            for (s, r) in ranges.enumerated() where lo < r.upperBound && hi >= r.lowerBound {
                members[s].append(Int32(j))
            }
        }
        nonisolated(unsafe) let out = output
        amp.withUnsafeBufferPointer { ampP in
            kv.withUnsafeBufferPointer { kP in
                nonisolated(unsafe) let ampB = ampP, kB = kP
                parallelForEach(ranges.count) { s in
                    renderSlab(atoms: members[s], zRange: ranges[s], positions: voxelPositions, radius: radius,
                               amp: ampB, k: kB, box: box, output: out)
                }
            }
        }
    }

    private static func renderSlab(atoms: [Int32], zRange: Range<Int>, positions: [SIMD3<Double>], radius: [Double],
                                   amp: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>,
                                   box: VoxelBox, output: UnsafeMutableBufferPointer<Float>) {
        let terms = DensityAtoms.terms
        let maxSpan = 2 * Int((radius.max() ?? 1).rounded(.up)) + 3
        let ex = UnsafeMutablePointer<Float>.allocate(capacity: maxSpan * terms)
        let ey = UnsafeMutablePointer<Float>.allocate(capacity: maxSpan * terms)
        let ez = UnsafeMutablePointer<Float>.allocate(capacity: maxSpan * terms)
        defer { ex.deallocate(); ey.deallocate(); ez.deallocate() }
        let sx = box.size.x, sy = box.size.y
        for jj in atoms {
            let j = Int(jj)
            let p = positions[j] - SIMD3<Double>(box.lower)
            let r = radius[j]
            let xlo = max(0, Int((p.x - r).rounded(.up))), xhi = min(box.size.x - 1, Int((p.x + r).rounded(.down)))
            let ylo = max(0, Int((p.y - r).rounded(.up))), yhi = min(box.size.y - 1, Int((p.y + r).rounded(.down)))
            let zlo = max(zRange.lowerBound, Int((p.z - r).rounded(.up)))
            let zhi = min(zRange.upperBound - 1, Int((p.z + r).rounded(.down)))
            if xlo > xhi || ylo > yhi || zlo > zhi { continue }
            // 1D Gaussian tables: e?[t * terms + i] = exp(-k_i d²).
            func fill(_ e: UnsafeMutablePointer<Float>, _ lo: Int, _ hi: Int, _ c: Double) {
                for t in 0...(hi - lo) {
                    let d = Float(Double(lo + t) - c)
                    let d2 = d * d
                    for i in 0..<terms { e[t * terms + i] = expf(-k[j * terms + i] * d2) }
                }
            }
            fill(ex, xlo, xhi, p.x); fill(ey, ylo, yhi, p.y); fill(ez, zlo, zhi, p.z)
            let r2 = Float(r * r)
            let a0 = amp[j * terms], a1 = amp[j * terms + 1], a2 = amp[j * terms + 2], a3 = amp[j * terms + 3], a4 = amp[j * terms + 4]
            let py = Float(p.y), pz = Float(p.z)
            let width = xhi - xlo + 1
            for z in zlo...zhi {
                let dz = Float(z) - pz
                let ezr = ez + (z - zlo) * terms
                for y in ylo...yhi {
                    let dy = Float(y) - py
                    let ryz = dy * dy + dz * dz
                    if ryz > r2 { continue }
                    let eyr = ey + (y - ylo) * terms
                    let c0 = a0 * eyr[0] * ezr[0], c1 = a1 * eyr[1] * ezr[1], c2 = a2 * eyr[2] * ezr[2]
                    let c3 = a3 * eyr[3] * ezr[3], c4 = a4 * eyr[4] * ezr[4]
                    let row = output.baseAddress! + ((z * sy + y) * sx + xlo)
                    var e = ex
                    for t in 0..<width {
                        row[t] += c0 * e[0] + c1 * e[1] + c2 * e[2] + c3 * e[3] + c4 * e[4]
                        e += terms
                    }
                }
            }
        }
    }
}

/// Simulated maps of atomic models.
public enum ModelMap {
    /// The map of `model` on `grid` (x fastest), in Å⁻² (f in Å per Å³).
    public static func simulate(_ model: AtomicModel, grid: MapGrid, settings: ModelMapSettings = ModelMapSettings()) throws -> [Float] {
        try simulate(atoms: model.atoms, grid: grid, settings: settings, path: model.path)
    }

    /// The map of `atoms` on `grid`.
    public static func simulate(atoms: [Atom], grid: MapGrid, settings: ModelMapSettings = ModelMapSettings(),
                                path: String? = nil) throws -> [Float] {
        guard grid.nx > 0, grid.ny > 0, grid.nz > 0, grid.pixelSize > 0, grid.pixelSize.isFinite else {
            throw ModelError.invalidGrid("invalid grid \(grid.nx)×\(grid.ny)×\(grid.nz) at \(grid.pixelSize) Å")
        }
        let prepared = try DensityAtoms(atoms: atoms, skipUnknownElements: settings.skipUnknownElements, path: path)
        let positions = prepared.positions.map { ($0 - grid.origin) / grid.pixelSize }
        var map = [Float](repeating: 0, count: grid.count)
        map.withUnsafeMutableBufferPointer { out in
            DensityRenderer.render(atoms: prepared, voxelPositions: positions, pixelSize: grid.pixelSize,
                                   extraB: settings.extraBFactor,
                                   box: VoxelBox(lower: .zero, size: SIMD3(grid.nx, grid.ny, grid.nz)),
                                   cutoffFraction: settings.cutoffFraction, into: out)
        }
        return map
    }
}
