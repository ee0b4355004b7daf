// One particle image brought to the new pixel size and box, as relion_image_handler
// --rescale_angpix X --new_box N does it: Fourier cropping or padding to the rescaled box (the
// Fourier module's RELION-exact rescale), then a real-space window to the final box around the
// centre (RELION's Xmipp origin: pixel n/2 of an even box), padding with zeros.

import AngpixFourier

/// Per-thread scratch for rescaling images; not shared between threads.
final class ImageRescaler {
    private var scratch: [Float] = []
    /// The Fourier module's resizers (RELION's resizeMap), one per pair of sizes met so far.
    private var resizers: [Int: FourierResizer] = [:]

    init() {}

    /// Rescales one `g.oldBox`² image into `output` (`g.finalBox`² values).
    func rescale(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, _ g: GroupRescale) {
        precondition(input.count == g.oldBox * g.oldBox && output.count == g.finalBox * g.finalBox)
        if !g.resamples {
            window(input, box: g.oldBox, into: output, box: g.finalBox)
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
            window(UnsafeBufferPointer(s), box: g.rescaledBox, into: output, box: g.finalBox)
        }
    }

    /// Fourier crop or pad of an n² image to m² (mean kept).
    private func resample(_ input: UnsafeBufferPointer<Float>, from n: Int,
                          into output: UnsafeMutableBufferPointer<Float>, to m: Int) {
        let key = n << 32 | m
        let resizer: FourierResizer
        if let known = resizers[key] {
            resizer = known
        } else {
            // Sizes were checked (≥ 2) when the plan was made, so this cannot fail.
            resizer = try! FourierResizer(size: n, newSize: m, dimensions: 2, threads: 1)
            resizers[key] = resizer
        }
        resizer.resize(input, into: output)
    }
}

/// Crops or pads an n² image to m² around the centre (pixel n/2 goes to pixel m/2), zeros outside.
func window(_ input: UnsafeBufferPointer<Float>, box n: Int, into output: UnsafeMutableBufferPointer<Float>, box m: Int) {
    let shift = n / 2 - m / 2          // output pixel j shows input pixel j + shift
    if shift == 0 && n == m {
        _ = output.initialize(from: input)
        return
    }
    for y in 0..<m {
        let sy = y + shift
        let row = UnsafeMutableBufferPointer(rebasing: output[(y * m)..<((y + 1) * m)])
        guard sy >= 0, sy < n else { row.update(repeating: 0); continue }
        for x in 0..<m {
            let sx = x + shift
            row[x] = (sx >= 0 && sx < n) ? input[sy * n + sx] : 0
        }
    }
}
