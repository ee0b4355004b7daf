// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// One particle image brought to the new pixel size and box, as relion_image_handler
// --rescale_angpix X --new_box N does it: Fourier cropping or padding to the rescaled box (the
// Fourier module's RELION-exact rescale), then a real-space window to the final box around the
// centre (the Fourier module's CentreWindow: pixel n/2 of an even box), padding with zeros.

import AngpixFourier

/// Per-thread scratch for rescaling images; not shared between threads.
final class ImageRescaler {
    private var scratch: [Float] = []
    /// The Fourier module's resizers (RELION's resizeMap), one per pair of sizes met so far.
    private var resizers: [Int: FourierResizer] = [:]

    init() {}

    /// Makes the Fourier resizer that `rescale` needs for `g` (call once per geometry, before
    /// `rescale`); throws for sizes that cannot be transformed.
    func prepare(for g: GroupRescale) throws {
        guard g.resamples else { return }
        let key = g.oldBox << 32 | g.rescaledBox
        if resizers[key] == nil {
            resizers[key] = try FourierResizer(size: g.oldBox, newSize: g.rescaledBox, dimensions: 2, threads: 1)
        }
    }

    /// Rescales one `g.oldBox`² image into `output` (`g.finalBox`² values); `prepare(for: g)`
    /// must have been called.
    func rescale(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, _ g: GroupRescale) {
        precondition(input.count == g.oldBox * g.oldBox && output.count == g.finalBox * g.finalBox)
        if !g.resamples {
            CentreWindow.apply(input, shape: [g.oldBox, g.oldBox], into: output, newShape: [g.finalBox, g.finalBox])
            return
        }
        if g.rescaledBox == g.finalBox {
            resample(input, from: g.oldBox, into: output, to: g.rescaledBox)
            return
        }
        if scratch.count != g.rescaledBox * g.rescaledBox {
            scratch = [Float](repeating: 0, count: g.rescaledBox * g.rescaledBox)
        }
        scratch.withUnsafeMutableBufferPointer { s in
            resample(input, from: g.oldBox, into: s, to: g.rescaledBox)
            CentreWindow.apply(UnsafeBufferPointer(s), shape: [g.rescaledBox, g.rescaledBox],
                               into: output, newShape: [g.finalBox, g.finalBox])
        }
    }

    /// Fourier crop or pad of an n² image to m² (mean kept).
    private func resample(_ input: UnsafeBufferPointer<Float>, from n: Int,
                          into output: UnsafeMutableBufferPointer<Float>, to m: Int) {
        guard let resizer = resizers[n << 32 | m] else {
            preconditionFailure("ImageRescaler: prepare(for:) was not called for \(n) → \(m) px")
        }
        resizer.resize(input, into: output)
    }
}
