// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A validator in the spirit of mrcfile's `validate` (CCP-EM mrcfile, validator.py): checks an MRC
// file against the MRC2014 definition and reports every problem found instead of stopping at the
// first. Checked: the file is long enough for its header, the mode is known, the dimensions are
// positive, the extended header fits, the header's sizes agree with the file size, the MAP word and
// machine stamp are present, the cell gives a positive voxel size, the axis order is a permutation
// of 1 2 3, ISPG suits the data, and the data hold no NaN/Inf and agree with DMIN/DMAX/DMEAN/RMS.

import AngpixCore
import AngpixCompression

/// How serious a validation problem is.
public enum MRCProblemSeverity: String, Sendable, Codable {
    /// The file cannot be read as described (angpix refuses it).
    case error
    /// The file can be read but breaks MRC2014 or will mislead other programs.
    case warning
}

/// One problem found by `MRCValidator`.
public struct MRCProblem: Sendable, Codable, Equatable, CustomStringConvertible {
    public var severity: MRCProblemSeverity
    public var message: String
    public init(_ severity: MRCProblemSeverity, _ message: String) { self.severity = severity; self.message = message }
    public var description: String { "\(severity.rawValue): \(message)" }
}

/// The outcome of validating a file: its header (when readable), statistics of its data and problems.
public struct MRCValidation: Sendable {
    public var path: String
    public var fileSize: Int
    public var header: MRCHeader?
    /// Statistics of the voxels (nil when the data could not be read).
    public var statistics: MRCStatistics?
    public var problems: [MRCProblem]
    /// The compression the file was stored with (nil: none); `fileSize` is then the size decompressed.
    public var compression: CompressionFormat? = nil
    /// The size of the file on disk (differs from `fileSize` when compressed).
    public var storedSize: Int? = nil
    /// True when no error was found (warnings alone leave a file valid, as in mrcfile.validate).
    public var isValid: Bool { !problems.contains { $0.severity == .error } }
}

/// Checks MRC files against MRC2014.
public enum MRCValidator {
    /// Validates `path` (gzip or bzip2 compressed files are decompressed first). Throws only when
    /// the file cannot be opened at all (missing, unreadable, damaged compression) or is another
    /// kind of file (`MRCError.notMRC`: TIFF, EER, STAR, text...).
    public static func validate(path: String) throws -> MRCValidation {
        let (file, compression, storedSize) = try MRCContent.open(path: path)
        var result = MRCValidation(path: path, fileSize: file.count, header: nil, statistics: nil, problems: [])
        result.compression = compression
        result.storedSize = compression == nil ? nil : storedSize
        func error(_ m: String) { result.problems.append(MRCProblem(.error, m)) }
        func warning(_ m: String) { result.problems.append(MRCProblem(.warning, m)) }
        guard file.count >= 1024 else {
            error("the file has \(file.count) bytes, fewer than the 1024-byte MRC header")
            return result
        }
        let h = MRCHeader.decode(file.bytes)
        result.header = h
        let layout = MRCLayout.of(header: h, path: path)
        if !h.hasMapWord { warning("the MAP word (bytes 209-212) is missing: not an MRC2014 file") }
        if !h.machineStampValid {
            let hex = h.machineStamp.map { String($0, radix: 16) }.joined(separator: " ")
            warning("unknown machine stamp \(hex); \(h.byteOrder.rawValue)-endian byte order guessed")
        }
        let mode = h.mode
        if mode == nil { error("unknown mode \(h.modeRaw)") }
        let dimsOK = h.nx > 0 && h.ny > 0 && h.nz > 0
        if !dimsOK { error("dimensions \(h.nx) × \(h.ny) × \(h.nz) are not all positive") }
        if h.mx <= 0 || h.my <= 0 || h.mz <= 0 {
            error("sampling MX MY MZ = \(h.mx) \(h.my) \(h.mz) is not all positive")
        }
        let v = h.voxelSize
        if h.cellIsZero && h.mx > 0 && h.my > 0 && h.mz > 0 {
            // mrcfile validates such files and RELION reads them with 1 Å/px (rwMRC.h).
            warning("the cell CELLA is 0 0 0: the pixel size is unknown (RELION assumes 1 Å/px); give it with --angpix where a command needs it, or set it with `angpix map set-pixel-size`")
        } else if !(v.x > 0 && v.y > 0 && v.z > 0) || !v.x.isFinite || !v.y.isFinite || !v.z.isFinite {
            error("voxel size \(v.x) × \(v.y) × \(v.z) Å is not positive (CELLA \(h.cella.x) \(h.cella.y) \(h.cella.z))")
        } else if abs(v.x - v.y) > 1e-4 * v.x {
            warning("voxels are not square: \(v.x) × \(v.y) Å")
        }
        if h.mapc == 0 && h.mapr == 0 && h.maps == 0 {
            warning("axis order MAPC MAPR MAPS is unset (0 0 0); read as 1 2 3")
        } else if !h.axisOrderIsValid {
            error("axis order MAPC MAPR MAPS = \(h.axisOrderText) is not a permutation of 1 2 3")
        } else if !h.axisOrderIsStandard {
            let size = h.mapSize
            if layout.isImageStack {
                error("image stack with axis order MAPC MAPR MAPS = \(h.axisOrderText): angpix does not read permuted stacks")
            } else {
                warning("axis order MAPC MAPR MAPS = \(h.axisOrderText): angpix reads the map permuted to x y z (\(size.x) × \(size.y) × \(size.z)); RELION and mrcfile read the data as stored, with the axes swapped")
            }
        }
        if h.modeRaw == 0 && h.imodStamp != MRCHeader.imodStampValue && h.dmin >= 0 && h.dmax > 127 && h.dmax <= 255 {
            warning("mode 0 without the IMOD stamp but DMIN/DMAX \(h.dmin)/\(h.dmax) look like unsigned bytes (old IMOD files); angpix reads them as signed, as MRC2014 says")
        }
        if !(h.ispg == 0 || h.ispg == 1 || (h.ispg > 1 && h.ispg <= 230) || h.isVolumeStack) {
            error("space group ISPG \(h.ispg) is not valid")
        } else if h.ispg == 0 && h.nz > 1 && h.mz > 1 && h.mz == h.nz && layout.kind == .volume {
            warning("ISPG 0 (image stack) with MZ = NZ = \(h.nz): read as a volume, as RELION writes volumes; the EMDB expects ISPG 1 for a volume")
        } else if h.isVolumeStack && h.mz > 0 && h.nz % h.mz != 0 {
            error("volume stack: NZ \(h.nz) is not a multiple of MZ \(h.mz)")
        }
        if h.nversion != 20140 && h.nversion != 20141 && h.hasMapWord {
            warning("NVERSION is \(h.nversion), not 20140")
        }
        if h.nsymbt < 0 || 1024 + h.nsymbt > file.count {
            error("extended header size NSYMBT \(h.nsymbt) does not fit in the file of \(file.count) bytes")
            return result
        }
        guard let mode, dimsOK else { return result }
        let (a, o1) = h.ny.multipliedReportingOverflow(by: h.nz)
        let (b, o2) = mode.bytesPerRow(h.nx).multipliedReportingOverflow(by: a)
        let (expected, o3) = b.addingReportingOverflow(h.dataOffset)
        if o1 || o2 || o3 || expected != file.count {
            let described = (o1 || o2 || o3) ? "more than \(Int.max)" : "\(expected)"
            error("the header describes \(described) bytes (1024 + NSYMBT \(h.nsymbt) + \(h.nx) × \(h.ny) × \(h.nz) \(mode.name)), the file has \(file.count)")
            return result
        }
        // The data.
        let mapped = try MRCMappedFile(header: h, file: file, compression: compression)
        let stats = statistics(of: mapped)
        result.statistics = stats
        if stats.nonFinite > 0 { error("\(stats.nonFinite) voxels are NaN or infinite") }
        if stats.count > 0 {
            let spread = max(stats.max - stats.min, 1e-6 * max(abs(stats.max), 1))
            func off(_ header: Float, _ actual: Double) -> Bool {
                !header.isFinite || abs(Double(header) - actual) > 1e-3 * spread + 1e-5 * abs(actual)
            }
            // MRC2014 allows "not well determined" markers: DMAX < DMIN, DMEAN below both, RMS < 0.
            let statsUnset = h.dmax < h.dmin || (h.dmin == 0 && h.dmax == 0 && h.dmean == 0)
            if !statsUnset {
                if off(h.dmin, stats.min) || off(h.dmax, stats.max) {
                    warning("header DMIN/DMAX \(h.dmin)/\(h.dmax) disagree with the data's \(Float(stats.min))/\(Float(stats.max))")
                }
                if h.dmean >= min(h.dmin, h.dmax), off(h.dmean, stats.mean) {
                    warning("header DMEAN \(h.dmean) disagrees with the data's \(Float(stats.mean))")
                }
                if h.rms >= 0, off(h.rms, stats.rms) {
                    warning("header RMS \(h.rms) disagrees with the data's \(Float(stats.rms))")
                }
            }
        }
        return result
    }

    /// Statistics of all voxels of a checked file, read section by section on all cores.
    public static func statistics(of f: MRCMappedFile) -> MRCStatistics {
        let h = f.header
        let ranges = splitRange(h.nz, into: Parallelism.jobs * 4)
        let section = h.nx * h.ny
        var parts = [MRCStatistics](repeating: MRCStatistics(), count: ranges.count)
        parts.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let o = out
            parallelForEach(ranges.count) { i in
                let per = max(1, (1 << 20) / section)
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: section * per)
                defer { buffer.deallocate() }
                var s = MRCStatistics()
                var z = ranges[i].lowerBound
                while z < ranges[i].upperBound {
                    let n = min(per, ranges[i].upperBound - z)
                    f.decodeSections(z..<(z + n), into: buffer.baseAddress!)
                    s.add(UnsafeBufferPointer(rebasing: buffer[0..<(n * section)]))
                    f.release(z..<(z + n))
                    z += n
                }
                o[i] = s
            }
        }
        var total = MRCStatistics()
        for p in parts { total.merge(p) }
        return total
    }
}
