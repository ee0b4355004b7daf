// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Whether an MRC file is an image, an image stack, a volume or a stack of volumes: one rule, used
// by `map info`, the validator and `map rescale`. From MRC2014 (ISPG 0 = images, 1 = a volume,
// 401-630 = volume stacks with MZ sections each) and from what producers write: RELION 3.1-5
// writes .mrcs stacks and volumes alike with ISPG 0 and MZ = NZ, and reads any .mrcs file as a
// stack (a file name's extension decides in RELION's image reader); WarpTools, tomoDRGN and
// cryoDRGN write .mrcs stacks with ISPG 0. So, in order: ISPG 401-630 → volume stack; NZ = 1 →
// image; the .mrcs extension → image stack; ISPG 0 with MZ ≠ NZ → image stack; otherwise a volume.

/// What an MRC file holds.
public enum MRCLayoutKind: String, Sendable, Codable {
    case image, imageStack = "image stack", volume, volumeStack = "volume stack"
}

/// The layout of an MRC file and the part of the rule that decided it.
public struct MRCLayout: Sendable, Equatable, Codable {
    public var kind: MRCLayoutKind
    /// Which rule decided, in words ("the .mrcs extension").
    public var reason: String

    /// The layout of the file `path` with header `h`.
    public static func of(header h: MRCHeader, path: String) -> MRCLayout {
        if h.isVolumeStack { return MRCLayout(kind: .volumeStack, reason: "ISPG \(h.ispg) (401-630: a stack of volumes)") }
        if h.nz == 1 { return MRCLayout(kind: .image, reason: "NZ 1") }
        if path.lowercased().hasSuffix(".mrcs") || path.lowercased().hasSuffix(".mrcs.gz") || path.lowercased().hasSuffix(".mrcs.bz2") {
            return MRCLayout(kind: .imageStack, reason: "the .mrcs extension (RELION reads .mrcs files as stacks)")
        }
        if h.ispg == 0 && h.mz != h.nz {
            return MRCLayout(kind: .imageStack, reason: "ISPG 0 with MZ \(h.mz) ≠ NZ \(h.nz)")
        }
        if h.ispg == 0 {
            return MRCLayout(kind: .volume, reason: "ISPG 0 with MZ = NZ, as RELION writes volumes")
        }
        return MRCLayout(kind: .volume, reason: "ISPG \(h.ispg)")
    }

    /// Whether the file is read as a stack of 2D images.
    public var isImageStack: Bool { kind == .imageStack }
}
