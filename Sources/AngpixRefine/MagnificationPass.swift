// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// One pass of the magnification fit over the particles, fast: the same sums as streaming
// `ParticleObservation`s into a `MagnificationAccumulator` (the same formulas, in the same order
// per pixel), computed only where the fit's weights are non-zero. The weights of RELION 3.1's
// CtfRefine are zero below 1/kmin and beyond the FSC's 0.143 shell, so at 200² a third of the
// half-complex grid is summed; every step here works on that list of weighted pixels:
//
//   - the observed spectrum (forward FFT / s²) is gathered at the weighted pixels;
//   - the prediction and its gradient are interpolated at those pixels only
//     (`ReferenceProjector.projectPixels`), into per-thread buffers (nothing is allocated per
//     particle);
//   - the transfer (CTF · e^{iφ_odd}) uses the group's frequency geometry gathered at those pixels;
//   - the nine per-pixel sums are kept interleaved (one cache line or two per pixel instead of
//     nine arrays across the grid) and spread onto the grid's `MagnificationSums` at the end.
//
// Between passes only the matrix changes: the observed spectra do not. With a cache file, the
// first pass writes each micrograph's gathered spectra (8 bytes per weighted pixel, about a third
// of the stack's size at 200²) and later passes read them back instead of the stacks and their
// FFTs. The file is unlinked as soon as it is opened (nothing is left behind, whatever happens),
// memory stays one micrograph per thread, and the cache is skipped when the disk lacks the room.

import Foundation
import AngpixCore
import AngpixFourier
import AngpixOptics

/// The weighted pixels of one optics group's half-complex grid, in index order.
struct WeightedPixels: Sendable {
    let grid: SpectrumGrid
    /// Half-complex index, column and row of each weighted pixel.
    let index: [Int]
    let columns: [Int32], rows: [Int32]
    /// The pixel's weight.
    let weight: [Double]

    init(grid: SpectrumGrid, weights: FrequencyWeights) {
        self.grid = grid
        let hx = grid.boxSize / 2 + 1
        var index: [Int] = [], columns: [Int32] = [], rows: [Int32] = [], weight: [Double] = []
        for i in 0..<weights.values.count where weights.values[i] != 0 {
            index.append(i)
            columns.append(Int32(i % hx)); rows.append(Int32(i / hx))
            weight.append(Double(weights.values[i]))
        }
        self.index = index; self.columns = columns; self.rows = rows; self.weight = weight
    }

    var count: Int { index.count }
}

/// A group's transfer-table geometry gathered at its weighted pixels.
struct CompactTransfer: Sendable {
    let table: TransferTable
    let xx: [Double], xy: [Double], yy: [Double], even: [Double], oddCos: [Double], oddSin: [Double]

    init(table: TransferTable, pixels: WeightedPixels) {
        self.table = table
        xx = pixels.index.map { table.xx[$0] }; xy = pixels.index.map { table.xy[$0] }
        yy = pixels.index.map { table.yy[$0] }; even = pixels.index.map { table.even[$0] }
        oddCos = pixels.index.map { table.oddCos[$0] }; oddSin = pixels.index.map { table.oddSin[$0] }
    }
}

/// Nine interleaved per-pixel sums (axx, axy, ayy, bx, by, ff, fgx, fgy, bf) of one group and half set.
struct CompactMagnificationSums {
    static let stride = 9
    var values: [Double]
    var residualEnergy = 0.0, weightSum = 0.0, particleCount = 0

    init(count: Int) { values = [Double](repeating: 0, count: count * Self.stride) }

    /// The grid's `MagnificationSums` with these sums at the weighted pixels (zero elsewhere).
    func expanded(_ pixels: WeightedPixels) -> MagnificationSums {
        var s = MagnificationSums(grid: pixels.grid)
        for (j, i) in pixels.index.enumerated() {
            let b = j * Self.stride
            s.axx[i] = values[b]; s.axy[i] = values[b + 1]; s.ayy[i] = values[b + 2]
            s.bx[i] = values[b + 3]; s.by[i] = values[b + 4]
            s.ff[i] = values[b + 5]; s.fgx[i] = values[b + 6]; s.fgy[i] = values[b + 7]; s.bf[i] = values[b + 8]
            // Σ w² |t f|² = w Σ w |t f|²: the pixel's weight is the same for every particle.
            s.ffSignal[i] = pixels.weight[j] * values[b + 5]
        }
        s.residualEnergy = residualEnergy
        s.weightSum = weightSum
        s.particleCount = particleCount
        return s
    }
}

/// The passes of one magnification refinement over one shard's particles: the weighted pixels of
/// each group and, across passes, the cache of the observed spectra at those pixels.
final class MagnificationPasses: @unchecked Sendable {
    let particles: RefineParticles
    let reference: RefineReference
    let weights: [Int: FrequencyWeights]
    /// By group index (nil: the group has no weights and is not summed).
    let pixels: [WeightedPixels?]
    let micrographs: [(name: String, rows: [Int])]
    /// Byte offset of each micrograph's block in the cache file, and of each of its rows in the block.
    let blockOffsets: [Int]
    let rowOffsets: [[Int]]
    let cacheBytes: Int
    /// The cache file (unlinked), or −1; whether a pass has filled it.
    private var cacheDescriptor: Int32 = -1
    private var cacheFilled = false

    /// Prepares the passes over the micrographs of `settings`' shard and groups (or over `chosen`);
    /// with `cacheDirectory`, later passes read the observed spectra from a cache file made there.
    init(particles: RefineParticles, reference: RefineReference, weights: [Int: FrequencyWeights],
         settings: StreamSettings, micrographs chosen: [(name: String, rows: [Int])]? = nil, cacheDirectory: String?) {
        self.particles = particles
        self.reference = reference
        self.weights = weights
        pixels = particles.optics.groups.map { g in
            weights[g.number].map { WeightedPixels(grid: SpectrumGrid(opticsGroup: g.number, boxSize: g.imageSize,
                                                                      pixelSize: g.imagePixelSize), weights: $0) }
        }
        micrographs = chosen ?? selectedMicrographs(particles, settings: settings)
        var offsets: [Int] = [], rowOffsets: [[Int]] = []
        var total = 0
        for m in micrographs {
            offsets.append(total)
            var inBlock = 0, list: [Int] = []
            for row in m.rows {
                list.append(inBlock)
                inBlock += (pixels[particles.records[row].groupIndex]?.count ?? 0) * MemoryLayout<Complex32>.stride
            }
            rowOffsets.append(list)
            total += inBlock
        }
        blockOffsets = offsets
        self.rowOffsets = rowOffsets
        cacheBytes = total
        if let cacheDirectory { openCache(in: cacheDirectory) }
    }

    deinit { if cacheDescriptor >= 0 { close(cacheDescriptor) } }

    /// Whether the observed spectra are read from the cache (true after a pass that filled it).
    var readsCache: Bool { cacheFilled }

    private func openCache(in directory: String) {
        // Room for the cache and 1 GiB to spare, or no cache.
        guard cacheBytes > 0,
              let attributes = try? FileManager.default.attributesOfFileSystem(forPath: directory),
              let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value,
              free > Int64(cacheBytes) + (1 << 30) else { return }
        let path = (directory as NSString).appendingPathComponent(".angpix-pass-cache-\(getpid())-\(UUID().uuidString)")
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { return }
        unlink(path)
        cacheDescriptor = fd
    }

    /// Runs one pass at the groups' matrices `settings.magMatrices` (nil: the file's) and returns
    /// the sums, as `streamObservations` with `MagnificationAccumulator` would.
    func run(settings: StreamSettings, progress: ProgressHandler?) throws -> (MagnificationAccumulator, StreamSummary) {
        let start = Date()
        let groups = particles.optics.groups
        let total = micrographs.reduce(0) { $0 + $1.rows.count }
        let threads = max(1, min(Parallelism.jobs, micrographs.count))
        let state = StreamState(threads: threads)
        let stacks = StackCache(projectDirectory: settings.projectDirectory)
        var plans: [Int: RealFFTPlan] = [:]
        for g in groups where plans[g.imageSize] == nil { plans[g.imageSize] = try RealFFTPlan(shape: [g.imageSize, g.imageSize]) }
        let planByBox = plans
        // This pass's transfer geometry of each group (its matrix and Zernike terms), made from
        // the first particle of the group.
        var firstRow = [Int?](repeating: nil, count: groups.count)
        for m in micrographs { for row in m.rows where firstRow[particles.records[row].groupIndex] == nil {
            firstRow[particles.records[row].groupIndex] = row
        } }
        let transfers: [CompactTransfer?] = groups.indices.map { gi in
            guard let px = pixels[gi], let row = firstRow[gi] else { return nil }
            return CompactTransfer(table: TransferTable(grid: px.grid, ctf: ctfParameters(row: row, settings: settings)),
                                   pixels: px)
        }
        let reading = readsCache, writing = cacheDescriptor >= 0 && !cacheFilled
        let fd = cacheDescriptor
        let maxBox = groups.map(\.imageSize).max() ?? 0
        let maxCount = pixels.map { $0?.count ?? 0 }.max() ?? 0
        var maxBlock = 0
        for m in 0..<micrographs.count { maxBlock = max(maxBlock, blockSize(m)) }
        var partials: [[CompactMagnificationSums?]] = Array(repeating: [], count: threads)
        let writeFailed = FlagBox()
        partials.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            parallelForEach(threads) { t in
                var sums = [CompactMagnificationSums?](repeating: nil, count: groups.count * 2)
                let image = UnsafeMutableBufferPointer<Float>.allocate(capacity: maxBox * maxBox)
                let spectrum = UnsafeMutableBufferPointer<Complex32>.allocate(capacity: maxBox * (maxBox / 2 + 1))
                let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(8, maxBlock), alignment: 16)
                let f = UnsafeMutablePointer<Complex32>.allocate(capacity: max(1, maxCount))
                let gx = UnsafeMutablePointer<Complex32>.allocate(capacity: max(1, maxCount))
                let gy = UnsafeMutablePointer<Complex32>.allocate(capacity: max(1, maxCount))
                let rampX = UnsafeMutablePointer<Complex32>.allocate(capacity: maxBox / 2 + 1)
                let rampY = UnsafeMutablePointer<Complex32>.allocate(capacity: max(1, maxBox))
                let scratch = ProjectionScratch(capacity: maxCount)
                defer {
                    image.deallocate(); spectrum.deallocate(); block.deallocate(); f.deallocate(); gx.deallocate()
                    gy.deallocate(); rampX.deallocate(); rampY.deallocate()
                }
                while let m = state.next(limit: micrographs.count) {
                    let (_, rows) = micrographs[m]
                    let blockSize = self.blockSize(m)
                    do {
                        // The observed spectra at the weighted pixels, from the cache or the stacks.
                        if reading {
                            try readFully(fd, block.baseAddress!, blockSize, offset: blockOffsets[m])
                        } else {
                            for (k, row) in rows.enumerated() {
                                let r = particles.records[row]
                                guard let px = pixels[r.groupIndex] else { continue }
                                let g = groups[r.groupIndex]
                                let s = g.imageSize
                                try readSpectrum(particles: particles, record: r, box: s, plan: planByBox[s]!, stacks: stacks,
                                                 image: UnsafeMutableBufferPointer(rebasing: image[0..<(s * s)]),
                                                 spectrum: UnsafeMutableBufferPointer(rebasing: spectrum[0..<(s * (s / 2 + 1))]))
                                let norm = 1 / Float(s * s)
                                let obs = (block.baseAddress! + rowOffsets[m][k]).assumingMemoryBound(to: Complex32.self)
                                px.index.withUnsafeBufferPointer { idx in
                                    for j in 0..<idx.count { obs[j] = spectrum[idx[j]] * norm }
                                }
                            }
                            if writing, !writeFailed.isSet, blockSize > 0 {
                                do { try writeFully(fd, block.baseAddress!, blockSize, offset: blockOffsets[m]) } catch { writeFailed.set() }
                            }
                        }
                        for (k, row) in rows.enumerated() {
                            let r = particles.records[row]
                            guard let px = pixels[r.groupIndex], let transfer = transfers[r.groupIndex] else { continue }
                            let g = groups[r.groupIndex]
                            let ctf = ctfParameters(row: row, settings: settings)
                            _ = try CTF(ctf)
                            reference.projector(forSubset: r.randomSubset).projectPixels(
                                pose: r.pose, boxSize: g.imageSize, pixelSize: g.imagePixelSize, magMatrix: ctf.magMatrix,
                                columns: px.columns, rows: px.rows, count: px.count, rampX: rampX, rampY: rampY, scratch: scratch,
                                values: f, gradientX: gx, gradientY: gy)
                            let obs = UnsafePointer((block.baseAddress! + rowOffsets[m][k]).assumingMemoryBound(to: Complex32.self))
                            let slot = r.groupIndex * 2 + (r.randomSubset == 2 ? 1 : 0)
                            if sums[slot] == nil {
                                sums[slot] = CompactMagnificationSums(count: px.count)
                                let other = slot ^ 1
                                if sums[other] == nil { sums[other] = CompactMagnificationSums(count: px.count) }
                            }
                            accumulate(into: &sums[slot]!, transfer: transfer, particle: transfer.table.particle(ctf),
                                       weight: px.weight, observed: obs, predicted: f, gradientX: gx, gradientY: gy)
                        }
                        let done = state.finished(rows.count)
                        progress?(done, total)
                    } catch {
                        state.fail(error)
                    }
                }
                out[t] = sums
            }
        }
        if let error = state.error { throw error }
        if writing { cacheFilled = !writeFailed.isSet }
        var result = MagnificationAccumulator(weights: weights)
        for part in partials {
            var acc = MagnificationAccumulator(weights: weights)
            for (gi, g) in groups.enumerated() {
                guard let px = pixels[gi], let a = part[gi * 2], let b = part[gi * 2 + 1] else { continue }
                acc.groups[g.number] = [a.expanded(px), b.expanded(px)]
            }
            try result.merge(acc)
        }
        return (result, StreamSummary(micrographs: micrographs.count, particles: total, seconds: Date().timeIntervalSince(start)))
    }

    /// The bytes of micrograph `m`'s observed spectra.
    private func blockSize(_ m: Int) -> Int {
        let end: Int = m + 1 < micrographs.count ? blockOffsets[m + 1] : cacheBytes
        return end - blockOffsets[m]
    }

    /// A particle's CTF parameters in this pass: the pass's matrix and Zernike terms, and the
    /// defocus carried into the new coordinates (as `streamObservations` does).
    private func ctfParameters(row: Int, settings: StreamSettings) -> CTFParameters {
        let r = particles.records[row]
        let mag: Matrix2x2?? = settings.magMatrices.map { $0[r.groupIndex] }
        var ctf = particles.ctfParameters(row: row, magMatrix: mag, evenZernike: settings.evenZernike?[r.groupIndex],
                                          oddZernike: settings.oddZernike?[r.groupIndex])
        if settings.carryDefocus, let new = ctf.magMatrix {
            let old = particles.optics.groups[r.groupIndex].magMatrix.map(Matrix2x2.init) ?? .identity
            if new != old {
                let c = carryDefocus(u: ctf.defocusU, v: ctf.defocusV, angleDegrees: ctf.defocusAngle, old: old, new: new)
                ctf.defocusU = c.u; ctf.defocusV = c.v; ctf.defocusAngle = c.angle
            }
        }
        return ctf
    }
}

/// One particle's terms added to the interleaved sums: `MagnificationSums.add`'s loop over the
/// weighted pixels (the same expressions in the same order).
@inline(__always)
func accumulate(into sums: inout CompactMagnificationSums, transfer c: CompactTransfer, particle p: TransferTable.Particle,
                weight: [Double], observed: UnsafePointer<Complex32>, predicted: UnsafePointer<Complex32>,
                gradientX: UnsafePointer<Complex32>, gradientY: UnsafePointer<Complex32>) {
    var energy = 0.0, wsum = 0.0
    let hasOdd = c.table.hasOdd
    sums.values.withUnsafeMutableBufferPointer { sb in
    weight.withUnsafeBufferPointer { wb in
    c.xx.withUnsafeBufferPointer { xx in c.xy.withUnsafeBufferPointer { xy in c.yy.withUnsafeBufferPointer { yy in
    c.even.withUnsafeBufferPointer { ev in c.oddCos.withUnsafeBufferPointer { oc in c.oddSin.withUnsafeBufferPointer { os in
        let S = sb.baseAddress!
        for j in 0..<wb.count {
            let w = wb[j]
            let gamma = TransferTable.gamma(p, xx: xx[j], xy: xy[j], yy: yy[j], even: ev[j])
            let v = -sin(gamma) * TransferTable.envelope(p, xx: xx[j], yy: yy[j])
            let t = hasOdd ? (re: v * oc[j], im: v * os[j]) : (re: v, im: 0.0)
            let f = predicted[j], y = observed[j], gx = gradientX[j], gy = gradientY[j]
            let tfr = t.re * Double(f.re) - t.im * Double(f.im), tfi = t.re * Double(f.im) + t.im * Double(f.re)
            let txr = t.re * Double(gx.re) - t.im * Double(gx.im), txi = t.re * Double(gx.im) + t.im * Double(gx.re)
            let tyr = t.re * Double(gy.re) - t.im * Double(gy.im), tyi = t.re * Double(gy.im) + t.im * Double(gy.re)
            let rr = Double(y.re) - tfr, ri = Double(y.im) - tfi
            let b = j * CompactMagnificationSums.stride
            S[b] += w * (txr * txr + txi * txi)
            S[b + 1] += w * (txr * tyr + txi * tyi)
            S[b + 2] += w * (tyr * tyr + tyi * tyi)
            S[b + 3] += w * (txr * rr + txi * ri)
            S[b + 4] += w * (tyr * rr + tyi * ri)
            S[b + 5] += w * (tfr * tfr + tfi * tfi)
            S[b + 6] += w * (tfr * txr + tfi * txi)
            S[b + 7] += w * (tfr * tyr + tfi * tyi)
            S[b + 8] += w * (tfr * rr + tfi * ri)
            energy += w * (rr * rr + ri * ri)
            wsum += w
        }
    } } } } } } } }
    sums.residualEnergy += energy
    sums.weightSum += wsum
    sums.particleCount += 1
}

/// The micrographs of `settings`' shard, restricted to its groups (the selection of `streamObservations`).
func selectedMicrographs(_ particles: RefineParticles, settings: StreamSettings) -> [(name: String, rows: [Int])] {
    var micrographs = shardMicrographs(particles, shard: settings.shard, shardCount: settings.shardCount)
    if let only = settings.groupIndices {
        micrographs = micrographs.compactMap { m in
            let rows = m.rows.filter { only.contains(particles.records[$0].groupIndex) }
            return rows.isEmpty ? nil : (m.name, rows)
        }
    }
    return micrographs
}

/// A flag set once from any thread.
final class FlagBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

private func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, offset: Int) throws {
    var done = 0
    while done < count {
        let n = pread(fd, buffer + done, count - done, off_t(offset + done))
        if n <= 0 {
            if n < 0, errno == EINTR { continue }
            throw RefineError.invalidOption("the pass cache could not be read back (\(n < 0 ? String(cString: strerror(errno)) : "short file"))")
        }
        done += n
    }
}

private func writeFully(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, offset: Int) throws {
    var done = 0
    while done < count {
        let n = pwrite(fd, buffer + done, count - done, off_t(offset + done))
        if n <= 0 {
            if n < 0, errno == EINTR { continue }
            throw RefineError.invalidOption("the pass cache could not be written")
        }
        done += n
    }
}
