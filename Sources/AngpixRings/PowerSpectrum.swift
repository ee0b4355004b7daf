// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tile-averaged power spectra of micrographs (the periodogram averaging CTFFIND and Gctf use):
// each image is cut into square tiles of T × T pixels overlapping by half, each tile has its mean
// removed and is multiplied by an edge taper (a separable Tukey window whose cosine edges take an
// eighth of the tile on each side), Fourier transformed (AngpixFourier.RealFFTPlan), and |F|² is
// averaged over the tiles. Each image's spectrum is normalised to a mean of 1 so that every image
// weighs the same in the average over images. Movies (MRC stacks of frames) are summed first.
// Spectra are kept in the half-complex layout of the Fourier module: T rows (ky = j for j ≤ T/2,
// j − T above) of T/2 + 1 columns (kx = i), in cycles per tile.

import Foundation
import AngpixCore
import AngpixMRC
import AngpixFourier

/// A power spectrum averaged over tiles (half-complex layout, see the file header).
public struct TileSpectrum: Sendable {
    /// The tile size T (pixels).
    public var tileSize: Int
    /// T rows × (T/2 + 1) values.
    public var values: [Double]
    /// The number of tiles averaged.
    public var tiles: Int

    public init(tileSize: Int, values: [Double], tiles: Int) {
        self.tileSize = tileSize; self.values = values; self.tiles = tiles
    }

    /// The mean of spectra (each already normalised), weighted by `weights` (default equal).
    public static func mean(_ spectra: [TileSpectrum]) -> TileSpectrum {
        precondition(!spectra.isEmpty)
        var v = [Double](repeating: 0, count: spectra[0].values.count)
        for s in spectra { for i in v.indices { v[i] += s.values[i] } }
        let n = Double(spectra.count)
        for i in v.indices { v[i] /= n }
        return TileSpectrum(tileSize: spectra[0].tileSize, values: v, tiles: spectra.reduce(0) { $0 + $1.tiles })
    }

    /// Scales the values to a mean of 1 outside the lowest frequencies (radius < T/32).
    mutating func normalise() {
        let t = tileSize, h = t / 2 + 1
        var sum = 0.0, n = 0
        let r0 = Double(t) / 32
        for j in 0..<t {
            let fy = Double(j <= t / 2 ? j : j - t)
            for i in 0..<h where (Double(i * i) + fy * fy).squareRoot() >= r0 {
                sum += values[j * h + i]; n += 1
            }
        }
        guard sum > 0, n > 0 else { return }
        let s = Double(n) / sum
        for i in values.indices { values[i] *= s }
    }
}

/// An image read for the calibration: a micrograph, or the sum of a movie's frames.
public struct RingImage: Sendable {
    public var path: String
    public var nx: Int
    public var ny: Int
    /// The pixel size in the header (Å; 0 if unset).
    public var headerPixelSize: Double
    /// How many frames were summed (1 for a micrograph).
    public var frames: Int
    /// nx·ny values, x fastest.
    public var data: [Float]
    /// What the reader noticed (saturated or nearly empty images), each naming the file.
    public var warnings: [String] = []

    public init(path: String, nx: Int, ny: Int, headerPixelSize: Double, frames: Int = 1, data: [Float]) {
        self.path = path; self.nx = nx; self.ny = ny; self.headerPixelSize = headerPixelSize
        self.frames = frames; self.data = data
    }
}

public enum RingImageReader {
    /// Extensions of formats refused with a clear message.
    static let unsupported: [String: String] = ["tif": "TIFF", "tiff": "TIFF", "eer": "EER", "dm4": "DM4", "dm3": "DM3",
                                                "png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "ser": "SER", "emd": "EMD", "h5": "HDF5"]

    /// Reads `path`: an MRC micrograph, or an MRC stack of frames (summed). Throws for other
    /// formats, unreadable files and constant images, with the file's name.
    public static func read(_ path: String) throws -> RingImage {
        let ext = (path as NSString).pathExtension.lowercased()
        if let f = unsupported[ext] { throw RingsError.unsupportedFormat(path: path, format: f) }
        let file = try MRCMappedFile(path: path)
        let h = file.header
        let nx = h.nx, ny = h.ny, nz = h.nz
        var data = [Float](repeating: 0, count: nx * ny)
        if nz == 1 {
            data.withUnsafeMutableBufferPointer { file.decodeSections(0..<1, into: $0.baseAddress!) }
        } else {
            // Sum the frames in parallel chunks (each chunk its own partial sum).
            let ranges = splitRange(nz, into: min(nz, Parallelism.jobs))
            var partial = [[Float]](repeating: [], count: ranges.count)
            partial.withUnsafeMutableBufferPointer { parts in
                nonisolated(unsafe) let p = parts
                parallelForEach(ranges.count) { c in
                    var sum = [Float](repeating: 0, count: nx * ny)
                    var frame = [Float](repeating: 0, count: nx * ny)
                    for z in ranges[c] {
                        frame.withUnsafeMutableBufferPointer { file.decodeSections(z..<(z + 1), into: $0.baseAddress!) }
                        for i in 0..<(nx * ny) { sum[i] += frame[i] }
                        file.release(z..<(z + 1))
                    }
                    p[c] = sum
                }
            }
            for part in partial { for i in 0..<(nx * ny) { data[i] += part[i] } }
        }
        var lo = data[0], hi = data[0]
        var finite = true
        for v in data {
            if !v.isFinite { finite = false; break }
            lo = min(lo, v); hi = max(hi, v)
        }
        guard finite else { throw RingsError.invalidOption("\(path): the image holds NaN or infinite values") }
        if hi == lo { throw RingsError.constantImage(path: path) }
        var image = RingImage(path: path, nx: nx, ny: ny, headerPixelSize: h.pixelSize, frames: nz, data: data)
        image.warnings = saturationWarnings(image, maximum: hi)
        return image
    }

    /// A warning when at least 1 % of the pixels sit at the image's maximum (a clipped, saturated
    /// detector or an integer overflow: the clipping spreads power over the whole spectrum and
    /// weakens the rings), or when at least 99 % are zero (an empty or nearly blank image).
    public static func saturationWarnings(_ image: RingImage, maximum: Float) -> [String] {
        var atMax = 0, zeros = 0
        for v in image.data {
            if v == maximum { atMax += 1 }
            if v == 0 { zeros += 1 }
        }
        let n = Double(image.data.count)
        var out: [String] = []
        if Double(atMax) >= 0.01 * n {
            out.append(String(format: "%@: %.1f %% of the pixels are at the maximum value %g: a saturated (clipped) image; the rings will be weaker and the spectrum distorted", image.path, 100 * Double(atMax) / n, Double(maximum)))
        }
        if Double(zeros) >= 0.99 * n {
            out.append(String(format: "%@: %.1f %% of the pixels are 0: a nearly empty image (no beam, or a blank frame)", image.path, 100 * Double(zeros) / n))
        }
        return out
    }
}

/// Computes tile-averaged power spectra.
public enum PowerSpectra {
    /// The separable edge taper: 1 inside, a raised cosine over the outer T/8 on each side.
    static func taper(_ t: Int) -> [Float] {
        let edge = max(1, t / 8)
        return (0..<t).map { i in
            let d = min(i, t - 1 - i)
            if d >= edge { return 1 }
            return Float(0.5 - 0.5 * cos(Double.pi * (Double(d) + 0.5) / Double(edge)))
        }
    }

    /// The tile origins along an axis of n pixels for tiles of t with 50 % overlap, centred.
    static func origins(_ n: Int, _ t: Int) -> [Int] {
        let step = max(1, t / 2)
        let count = (n - t) / step + 1
        let start = (n - (t + (count - 1) * step)) / 2
        return (0..<count).map { start + $0 * step }
    }

    /// The spectrum of one image averaged over its tiles, and (if `groups` > 1) the spectra of
    /// `groups` interleaved subsets of the tiles (for the spread of a single image). Every
    /// returned spectrum is normalised to a mean of 1.
    public static func spectrum(of image: RingImage, tileSize t: Int, groups: Int = 1) throws -> (all: TileSpectrum, groups: [TileSpectrum]) {
        guard image.nx >= t, image.ny >= t else {
            throw RingsError.imageTooSmall(path: image.path, nx: image.nx, ny: image.ny, minimum: t)
        }
        let plan = try RealFFTPlan.cached(shape: [t, t])
        let h = t / 2 + 1
        let xs = origins(image.nx, t), ys = origins(image.ny, t)
        var tiles: [(Int, Int)] = []
        for y in ys { for x in xs { tiles.append((x, y)) } }
        let g = max(1, min(groups, tiles.count))
        let w = taper(t)
        let chunks = splitRange(tiles.count, into: min(tiles.count, Parallelism.jobs * 2))
        // Per chunk: one accumulator per group.
        var partial = [[[Double]]](repeating: [], count: chunks.count)
        let nx = image.nx
        image.data.withUnsafeBufferPointer { src in
            nonisolated(unsafe) let s = src
            partial.withUnsafeMutableBufferPointer { parts in
                nonisolated(unsafe) let p = parts
                parallelForEach(chunks.count) { c in
                    var acc = [[Double]](repeating: [Double](repeating: 0, count: t * h), count: g)
                    var tile = [Float](repeating: 0, count: t * t)
                    var spec = [Complex32](repeating: Complex32(0, 0), count: t * h)
                    for ti in chunks[c] {
                        let (x0, y0) = tiles[ti]
                        var mean = 0.0
                        for y in 0..<t {
                            let row = (y0 + y) * nx + x0
                            for x in 0..<t { mean += Double(s[row + x]) }
                        }
                        let m = Float(mean / Double(t * t))
                        for y in 0..<t {
                            let row = (y0 + y) * nx + x0
                            let wy = w[y]
                            for x in 0..<t { tile[y * t + x] = (s[row + x] - m) * wy * w[x] }
                        }
                        tile.withUnsafeBufferPointer { inp in
                            spec.withUnsafeMutableBufferPointer { out in plan.forward(inp, out, threads: 1) }
                        }
                        let gi = ti % g
                        for k in 0..<(t * h) {
                            let v = spec[k]
                            acc[gi][k] += Double(v.re) * Double(v.re) + Double(v.im) * Double(v.im)
                        }
                    }
                    p[c] = acc
                }
            }
        }
        var groupSpectra: [TileSpectrum] = []
        var total = [Double](repeating: 0, count: t * h)
        for gi in 0..<g {
            var v = [Double](repeating: 0, count: t * h)
            for part in partial where !part.isEmpty { for k in 0..<(t * h) { v[k] += part[gi][k] } }
            for k in 0..<(t * h) { total[k] += v[k] }
            let count = (0..<tiles.count).filter { $0 % g == gi }.count
            var s = TileSpectrum(tileSize: t, values: v, tiles: count)
            s.normalise()
            groupSpectra.append(s)
        }
        var all = TileSpectrum(tileSize: t, values: total, tiles: tiles.count)
        all.normalise()
        return (all, g > 1 ? groupSpectra : [])
    }
}
