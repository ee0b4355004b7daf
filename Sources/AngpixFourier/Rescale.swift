// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Fourier rescaling of square images and cubic maps exactly as RELION 3.1 does it
// (relion_image_handler --rescale_angpix X --new_box N; src/apps/image_handler.cpp, resizeMap in
// src/fftw.cpp, windowFourierTransform in src/fftw.h):
//
// - new box = ROUND(old box × old pixel size / X), made even by dropping 1 if odd; the pixel size
//   reached is old pixel size × old box / new box, and that is what goes into the header;
// - the map is transformed (RELION's forward transform divides by the number of voxels, its inverse
//   does not, so the mean is kept), its half-complex spectrum is windowed to the new size and
//   transformed back:
//     · shrinking keeps the cube of frequencies -(m/2-1) ... m/2 along y and z and 0 ... m/2 along x,
//       the new Nyquist taking the old +m/2 components;
//     · growing copies only the frequencies inside the sphere of radius (old half size - 1), i.e.
//       |k|² ≤ (n/2)² for an even old box, to the same signed frequency in the bigger spectrum
//       (the old Nyquist lands on +n/2), zeros elsewhere;
//   the inverse of a spectrum that is not exactly Hermitian (the kx = 0 and kx = m/2 planes) is
//   what FFTW's complex-to-real transform returns, i.e. the inverse of its Hermitian part, so that
//   part is taken explicitly and the result does not depend on the FFT's handling;
// - a non-square image is first padded to a square of its larger side around its centre,
//   rescaled, then windowed to ROUND(side × old / reached pixel size) made even;
// - --new_box then crops or pads in real space around the centre (RELION's Xmipp origin: pixel
//   n/2 of the old box becomes pixel m/2 of the new one), with zeros.
//
// Everything here works on plain Float buffers (x fastest); readers and writers live elsewhere.

import Foundation
import AngpixCore

/// Errors of rescaling.
public enum RescaleError: AngpixError, Equatable {
    case nonPositivePixelSize(Double)
    case nonPositiveTargetPixelSize(Double)
    case boxTooSmall(Int)
    case oddBox(Int)
    case notCubic(nx: Int, ny: Int, nz: Int)
    case rescaledBoxTooSmall(oldBox: Int, newBox: Int)

    public var description: String {
        switch self {
        case .nonPositivePixelSize(let v): return "pixel size \(v) Å is not positive"
        case .nonPositiveTargetPixelSize(let v): return "the new pixel size \(v) Å is not positive"
        case .boxTooSmall(let b): return "box \(b) is smaller than 2"
        case .oddBox(let b): return "box \(b) is odd (RELION's Fourier rescaling needs an even box)"
        case .notCubic(let nx, let ny, let nz): return "a \(nx) × \(ny) × \(nz) map is not cubic; only cubic maps can be rescaled"
        case .rescaledBoxTooSmall(let old, let new):
            return "rescaling the box of \(old) gives a box of \(new), smaller than 2"
        }
    }
}

/// The box and pixel size that RELION's --rescale_angpix gives.
public struct RescaleTarget: Sendable, Equatable {
    /// The old box (the larger side for a non-square image).
    public var oldBox: Int
    /// The new box: ROUND(old box × old pixel size / requested), made even.
    public var newBox: Int
    /// The pixel size requested (Å).
    public var requestedPixelSize: Double
    /// The pixel size reached: old pixel size × old box / new box (Å).
    public var pixelSize: Double

    /// Computes the new box for `oldBox` pixels of `oldPixelSize` Å brought to `requested` Å.
    public init(oldBox: Int, oldPixelSize: Double, requested: Double) throws {
        guard oldPixelSize > 0, oldPixelSize.isFinite else { throw RescaleError.nonPositivePixelSize(oldPixelSize) }
        guard requested > 0, requested.isFinite else { throw RescaleError.nonPositiveTargetPixelSize(requested) }
        guard let box = RescaleTarget.relionBox(oldBox: oldBox, oldPixelSize: oldPixelSize, requested: requested) else {
            throw RescaleError.nonPositiveTargetPixelSize(requested)
        }
        guard box >= 2 else { throw RescaleError.rescaledBoxTooSmall(oldBox: oldBox, newBox: box) }
        self.oldBox = oldBox
        newBox = box
        requestedPixelSize = requested
        pixelSize = Double(oldBox) * oldPixelSize / Double(box)
    }

    /// RELION's rescaled box: ROUND(old box × (old pixel size / requested)) made even by dropping
    /// one if odd (64 px at 1 Å to 1.3 Å: 49.23 → 49 → 48); nil when the product is not finite or
    /// not below 10⁷ pixels.
    public static func relionBox(oldBox: Int, oldPixelSize: Double, requested: Double) -> Int? {
        let exact = Double(oldBox) * (oldPixelSize / requested)
        guard exact.isFinite, exact < 1e7 else { return nil }
        var box = Int(exact.rounded(.toNearestOrAwayFromZero))
        box -= box % 2
        return box
    }

    /// The side ROUND(side × old / reached pixel size) made even, for the sides of a non-square image.
    public static func side(_ side: Int, oldPixelSize: Double, reached: Double) -> Int {
        max(relionBox(oldBox: side, oldPixelSize: oldPixelSize, requested: reached) ?? 0, 0)
    }
}

/// Real-space windowing around the centre (RELION/Xmipp origin at index n/2 of each axis).
public enum CentreWindow {
    /// Copies `input` of `shape` (slowest-first, 1 to 3 axes) into `output` of `newShape`,
    /// cropping or padding with zeros so that index n/2 of each axis lands on m/2.
    public static func apply(_ input: UnsafeBufferPointer<Float>, shape: [Int],
                             into output: UnsafeMutableBufferPointer<Float>, newShape: [Int]) {
        let s = padded3(shape), t = padded3(newShape)
        precondition(input.count >= s.reduce(1, *) && output.count >= t.reduce(1, *))
        // Offset added to an output index to get the input index, per axis.
        let dz = s[0] / 2 - t[0] / 2, dy = s[1] / 2 - t[1] / 2, dx = s[2] / 2 - t[2] / 2
        let xLo = max(0, -dx), xHi = min(t[2], s[2] - dx)
        let src = input.baseAddress!, dst = output.baseAddress!
        for z in 0..<t[0] {
            let iz = z + dz
            for y in 0..<t[1] {
                let iy = y + dy
                let row = dst + (z * t[1] + y) * t[2]
                if iz < 0 || iz >= s[0] || iy < 0 || iy >= s[1] || xHi <= xLo {
                    row.update(repeating: 0, count: t[2])
                    continue
                }
                if xLo > 0 { row.update(repeating: 0, count: xLo) }
                if xHi < t[2] { (row + xHi).update(repeating: 0, count: t[2] - xHi) }
                (row + xLo).update(from: src + (iz * s[1] + iy) * s[2] + xLo + dx, count: xHi - xLo)
            }
        }
    }

    /// The windowed copy of an array.
    public static func apply(_ input: [Float], shape: [Int], newShape: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: newShape.reduce(1, *))
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { apply(i, shape: shape, into: $0, newShape: newShape) } }
        return out
    }

    static func padded3(_ shape: [Int]) -> [Int] {
        Array(repeating: 1, count: max(0, 3 - shape.count)) + shape
    }
}

/// RELION's resizeMap: Fourier cropping or padding of a square image or a cubic map to a new
/// size, keeping the mean. One object holds the plans and scratch buffers for one pair of sizes;
/// it is not thread-safe (make one per thread), the plans it uses are shared.
public final class FourierResizer: @unchecked Sendable {
    /// Old and new sizes (side of the square or cube) and the number of dimensions (2 or 3).
    public let size: Int, newSize: Int, dimensions: Int
    let plan: RealFFTPlan?, newPlan: RealFFTPlan?
    let spectrum: UnsafeMutableBufferPointer<Complex32>
    let newSpectrum: UnsafeMutableBufferPointer<Complex32>
    /// Threads used by each transform (1 when images are spread over threads by the caller).
    public let threads: Int

    /// Prepares resizing of `dimensions`-D arrays of side `size` to side `newSize`.
    public init(size: Int, newSize: Int, dimensions: Int, threads: Int = 1) throws {
        precondition(dimensions == 2 || dimensions == 3)
        guard size >= 1 else { throw RescaleError.boxTooSmall(size) }
        guard newSize >= 1 else { throw RescaleError.boxTooSmall(newSize) }
        self.size = size; self.newSize = newSize; self.dimensions = dimensions
        self.threads = max(1, threads)
        if size == newSize {
            plan = nil; newPlan = nil
            spectrum = .allocate(capacity: 0); newSpectrum = .allocate(capacity: 0)
            return
        }
        let p = try RealFFTPlan.cached(shape: Array(repeating: size, count: dimensions))
        let q = try RealFFTPlan.cached(shape: Array(repeating: newSize, count: dimensions))
        plan = p; newPlan = q
        spectrum = .allocate(capacity: p.spectrumCount)
        newSpectrum = .allocate(capacity: q.spectrumCount)
    }

    deinit {
        spectrum.deallocate()
        newSpectrum.deallocate()
    }

    /// Resizes `input` (size^d Floats) into `output` (newSize^d Floats).
    public func resize(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        guard let plan, let newPlan else {
            // Same size: RELION transforms there and back, which returns the input.
            output.baseAddress!.update(from: input.baseAddress!, count: dimensions == 3 ? size * size * size : size * size)
            return
        }
        plan.forward(input, spectrum, threads: threads)
        window()
        makeHermitianPlanes(newSpectrum.baseAddress!, size: newSize, dimensions: dimensions)
        newPlan.inverse(UnsafeBufferPointer(newSpectrum), output, threads: threads)
    }

    /// Resizes an array.
    public func resize(_ input: [Float]) -> [Float] {
        let count = Int(pow(Double(newSize), Double(dimensions)))
        var out = [Float](repeating: 0, count: count)
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { resize(i, into: $0) } }
        return out
    }

    /// Copies `spectrum` (side `size`) into `newSpectrum` (side `newSize`) as RELION's
    /// windowFourierTransform does, scaled by newSize^d / size^d so that the unnormalised forward
    /// and normalised inverse give RELION's result (its forward divides by size^d).
    func window() {
        let n = size, m = newSize
        let nh = n / 2 + 1, mh = m / 2 + 1
        let nz = dimensions == 3 ? n : 1, mz = dimensions == 3 ? m : 1
        let scale = Float(pow(Double(m) / Double(n), Double(dimensions)))
        let src = spectrum.baseAddress!, dst = newSpectrum.baseAddress!
        if mh > nh {
            // Growing: frequencies inside the sphere of radius nh-1 go to the same signed frequency.
            dst.update(repeating: Complex32(0, 0), count: newSpectrum.count)
            let maxR2 = (nh - 1) * (nh - 1)
            for k in 0..<nz {
                let kp = fourierFrequency(k, n)
                let ko = kp < 0 ? kp + m : kp
                for i in 0..<n {
                    let ip = fourierFrequency(i, n)
                    let io = ip < 0 ? ip + m : ip
                    let r2 = kp * kp + ip * ip
                    if r2 > maxR2 { continue }
                    let inRow = src + (k * n + i) * nh
                    let outRow = dst + (ko * m + io) * mh
                    var x = 0
                    while x < nh && r2 + x * x <= maxR2 {
                        outRow[x] = inRow[x] * scale
                        x += 1
                    }
                }
            }
        } else {
            // Shrinking (or an odd old box of the same half size): every new frequency is read.
            for k in 0..<mz {
                let kp = fourierFrequency(k, m)
                let ki = kp < 0 ? kp + n : kp
                for i in 0..<m {
                    let ip = fourierFrequency(i, m)
                    let ii = ip < 0 ? ip + n : ip
                    let inRow = src + (ki * n + ii) * nh
                    let outRow = dst + (k * m + i) * mh
                    for x in 0..<mh { outRow[x] = inRow[x] * scale }
                }
            }
        }
    }
}

/// Replaces the kx = 0 plane (and the kx = n/2 plane for even n) of the half-complex spectrum of a
/// square image or cubic map of side `n` by its Hermitian part, (F(k) + conj F(−k)) / 2, which is
/// what a complex-to-real transform such as FFTW's effectively inverts. `dimensions` is 2 or 3.
public func makeHermitianPlanes(_ s: UnsafeMutablePointer<Complex32>, size n: Int, dimensions: Int) {
    let h = n / 2 + 1
    let nz = dimensions == 3 ? n : 1
    let columns = n % 2 == 0 ? [0, n / 2] : [0]
    for x in columns {
        for k in 0..<nz {
            let kNeg = (nz - k) % nz
            for i in 0..<n {
                let iNeg = (n - i) % n
                let a = (k * n + i) * h + x
                let b = (kNeg * n + iNeg) * h + x
                if b < a { continue }
                let fa = s[a], fb = s[b]
                if a == b {
                    s[a] = Complex32(fa.re, 0)
                } else {
                    let re = (fa.re + fb.re) * 0.5
                    let im = (fa.im - fb.im) * 0.5
                    s[a] = Complex32(re, im)
                    s[b] = Complex32(re, -im)
                }
            }
        }
    }
}

/// What to do to a map or a stack of images: RELION's --rescale_angpix and --new_box.
public struct RescalePlan: Sendable, Equatable {
    /// Input shape (slowest-first: [ny, nx] for images, [nz, ny, nx] for a map).
    public var inputShape: [Int]
    /// Input pixel size in Å.
    public var inputPixelSize: Double
    /// The Fourier rescaling step (nil when only the box changes).
    public var target: RescaleTarget?
    /// Shape after the Fourier step.
    public var rescaledShape: [Int]
    /// Final shape, after the real-space window to the requested box.
    public var outputShape: [Int]
    /// The pixel size written to the output header (Å).
    public var outputPixelSize: Double

    /// Plans a rescale of arrays of `shape` ([ny, nx] or [nz, ny, nx]) at `pixelSize` Å to
    /// `newPixelSize` Å (optional) and then to a box of `box` (optional, even, ≥ 2).
    public init(shape: [Int], pixelSize: Double, newPixelSize: Double?, box: Int?) throws {
        precondition(shape.count == 2 || shape.count == 3)
        if let box {
            guard box >= 2 else { throw RescaleError.boxTooSmall(box) }
            guard box % 2 == 0 else { throw RescaleError.oddBox(box) }
        }
        inputShape = shape
        inputPixelSize = pixelSize
        var current = shape
        var pixel = pixelSize
        if let newPixelSize {
            if shape.count == 3 && !(shape[0] == shape[1] && shape[1] == shape[2]) {
                throw RescaleError.notCubic(nx: shape[2], ny: shape[1], nz: shape[0])
            }
            let side = shape.max()!
            let t = try RescaleTarget(oldBox: side, oldPixelSize: pixelSize, requested: newPixelSize)
            target = t
            pixel = t.pixelSize
            if shape.count == 2 && shape[0] != shape[1] {
                current = [RescaleTarget.side(shape[0], oldPixelSize: pixelSize, reached: t.pixelSize),
                           RescaleTarget.side(shape[1], oldPixelSize: pixelSize, reached: t.pixelSize)]
                if current.contains(where: { $0 < 2 }) {
                    throw RescaleError.rescaledBoxTooSmall(oldBox: shape.min()!, newBox: current.min()!)
                }
            } else {
                current = Array(repeating: t.newBox, count: shape.count)
            }
        } else {
            target = nil
            guard pixelSize > 0, pixelSize.isFinite else { throw RescaleError.nonPositivePixelSize(pixelSize) }
        }
        rescaledShape = current
        if let box { current = Array(repeating: box, count: shape.count) }
        outputShape = current
        outputPixelSize = pixel
    }

    /// Values per input array and per output array.
    public var inputCount: Int { inputShape.reduce(1, *) }
    public var outputCount: Int { outputShape.reduce(1, *) }
}

/// Applies a `RescalePlan` to one array at a time. Not thread-safe: make one per thread.
public final class Rescaler: @unchecked Sendable {
    public let plan: RescalePlan
    let resizer: FourierResizer?
    let cube: [Int], newCube: [Int]
    /// The input padded to a square (non-square images only).
    let square: UnsafeMutableBufferPointer<Float>?
    /// The Fourier-resized square or cube (when windows follow).
    let resized: UnsafeMutableBufferPointer<Float>?
    /// The resized image windowed to its rescaled sides (non-square images with a new box only).
    let rescaled: UnsafeMutableBufferPointer<Float>?

    /// Prepares the buffers and FFT plans; `threads` is used inside each transform.
    public init(plan: RescalePlan, threads: Int = 1) throws {
        self.plan = plan
        let d = plan.inputShape.count
        let side = plan.inputShape.max()!
        cube = Array(repeating: side, count: d)
        if let t = plan.target {
            newCube = Array(repeating: t.newBox, count: d)
            resizer = try FourierResizer(size: t.oldBox, newSize: t.newBox, dimensions: d, threads: threads)
            square = plan.inputShape != cube ? .allocate(capacity: cube.reduce(1, *)) : nil
            let direct = plan.outputShape == newCube && plan.rescaledShape == newCube
            resized = direct ? nil : .allocate(capacity: newCube.reduce(1, *))
            rescaled = (!direct && plan.rescaledShape != newCube && plan.rescaledShape != plan.outputShape)
                ? .allocate(capacity: plan.rescaledShape.reduce(1, *)) : nil
        } else {
            newCube = cube
            resizer = nil; square = nil; resized = nil; rescaled = nil
        }
    }

    deinit {
        square?.deallocate(); resized?.deallocate(); rescaled?.deallocate()
    }

    /// Rescales one array of `plan.inputCount` values into `plan.outputCount` values.
    public func apply(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        guard let resizer else {
            CentreWindow.apply(input, shape: plan.inputShape, into: output, newShape: plan.outputShape)
            return
        }
        // 1. A non-square image is padded to a square first.
        var source = input
        if let square {
            CentreWindow.apply(input, shape: plan.inputShape, into: square, newShape: cube)
            source = UnsafeBufferPointer(square)
        }
        // 2. Fourier resize, 3. windows to the rescaled sides and then to the requested box.
        guard let resized else {
            resizer.resize(source, into: output)
            return
        }
        resizer.resize(source, into: resized)
        if let rescaled {
            CentreWindow.apply(UnsafeBufferPointer(resized), shape: newCube, into: rescaled, newShape: plan.rescaledShape)
            CentreWindow.apply(UnsafeBufferPointer(rescaled), shape: plan.rescaledShape, into: output, newShape: plan.outputShape)
        } else {
            CentreWindow.apply(UnsafeBufferPointer(resized), shape: newCube, into: output, newShape: plan.outputShape)
        }
    }

    /// Rescales an array.
    public func apply(_ input: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: plan.outputCount)
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { apply(i, into: $0) } }
        return out
    }
}

/// Rescales `count` images (or maps) read and written through closures, in batches spread over
/// `Parallelism.jobs` threads, in order. Memory stays bounded by one batch of inputs and outputs.
///
/// - `read(range, buffer)` fills `buffer` with arrays `range` (`plan.inputCount` values each);
/// - `write(buffer)` receives the rescaled arrays of a batch, in order;
/// - `progress(done, total)` is called after each batch.
public func rescaleStack(plan: RescalePlan, count: Int, batchSize: Int? = nil,
                         read: (Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void,
                         write: (UnsafeBufferPointer<Float>) throws -> Void,
                         progress: ProgressHandler? = nil) throws {
    guard count > 0 else { return }
    let jobs = max(1, Parallelism.jobs)
    // A few images per thread: memory stays small whatever the stack's size (at most ~64 MB of
    // buffers for very large images, and at least one image per thread).
    let perImageBytes = max(1, 4 * (plan.inputCount + plan.outputCount))
    let batch = max(1, min(count, batchSize ?? max(jobs, min(jobs * 8, (64 << 20) / perImageBytes))))
    let workers = min(jobs, batch)
    var rescalers: [Rescaler] = []
    for _ in 0..<workers { rescalers.append(try Rescaler(plan: plan, threads: 1)) }
    var input = [Float](unsafeUninitializedCapacity: batch * plan.inputCount) { _, n in n = batch * plan.inputCount }
    var output = [Float](unsafeUninitializedCapacity: batch * plan.outputCount) { _, n in n = batch * plan.outputCount }
    var start = 0
    while start < count {
        let n = min(batch, count - start)
        try input.withUnsafeMutableBufferPointer { try read(start..<(start + n), UnsafeMutableBufferPointer(rebasing: $0[0..<(n * plan.inputCount)])) }
        let ranges = splitRange(n, into: workers)
        input.withUnsafeBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let i = inp, o = out
                let rs = rescalers
                parallelForEach(ranges.count) { w in
                    let r = rs[w]
                    for k in ranges[w] {
                        r.apply(UnsafeBufferPointer(rebasing: i[(k * plan.inputCount)..<((k + 1) * plan.inputCount)]),
                                into: UnsafeMutableBufferPointer(rebasing: o[(k * plan.outputCount)..<((k + 1) * plan.outputCount)]))
                    }
                }
            }
        }
        try output.withUnsafeBufferPointer { try write(UnsafeBufferPointer(rebasing: $0[0..<(n * plan.outputCount)])) }
        start += n
        progress?(start, count)
    }
}
