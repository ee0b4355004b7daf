// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The geometry of rescaling particle images as relion_image_handler --rescale_angpix X --new_box N
// does it (RELION 3.1.3, src/apps/image_handler.cpp, checked against the installed program):
//   rescaled box = ROUND(old box × (old pixel size / X)), then made even by dropping 1 if odd
//                  (64 px at 1 Å to 1.3 Å: 49.23 → 49 → 48);
//   pixel size reached = old pixel size × old box / rescaled box (written to the header: 1.3333 Å);
//   --new_box N then crops or pads in real space around the centre (pixel N/2).
// The rounding is AngpixFourier's RescaleTarget.relionBox.

import AngpixFourier

/// How the images of one optics group are brought to the new pixel size and box.
public struct GroupRescale: Sendable, Equatable, Codable {
    /// The optics group number (rlnOpticsGroup).
    public var opticsGroup: Int
    /// rlnImagePixelSize before (Å).
    public var oldPixelSize: Double
    /// rlnImageSize before (pixels).
    public var oldBox: Int
    /// The box after Fourier cropping or padding (pixels).
    public var rescaledBox: Int
    /// The box written (after the real-space window of --box), the new rlnImageSize.
    public var finalBox: Int
    /// The pixel size reached (Å), the new rlnImagePixelSize and the stacks' header pixel size.
    public var newPixelSize: Double

    /// The rescale of a group of `oldBox` pixels at `oldPixelSize` Å to `target` Å, then to `box`.
    public init(opticsGroup: Int, oldPixelSize: Double, oldBox: Int, target: Double, box: Int?) throws {
        self.opticsGroup = opticsGroup
        self.oldPixelSize = oldPixelSize
        self.oldBox = oldBox
        rescaledBox = RescaleTarget.relionBox(oldBox: oldBox, oldPixelSize: oldPixelSize, requested: target) ?? 0
        guard rescaledBox >= 2 else {
            throw ParticlesError.invalidOption(
                "optics group \(opticsGroup): \(oldBox) px at \(oldPixelSize) Å would become \(rescaledBox) px at \(target) Å (smaller than 2)")
        }
        finalBox = box ?? rescaledBox
        newPixelSize = oldPixelSize * Double(oldBox) / Double(rescaledBox)
    }

    /// Whether the images are resampled in Fourier space (false when the box stays the same).
    public var resamples: Bool { rescaledBox != oldBox }
}
