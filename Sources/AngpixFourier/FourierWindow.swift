// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Fourier-space cropping and padding of half-complex spectra (RELION's windowFourierTransform,
// src/fftw.h): the output spectrum of another box keeps every frequency that both boxes hold
// and is zero elsewhere. Along each axis, index i of a box of size n is the signed frequency
// i ≤ n/2 ? i : i − n (only +n/2 for an even Nyquist); the half axis x keeps kx = 0 ... min.
// Shrinking therefore crops (a low-pass at the new Nyquist), growing zero-pads (band-limited
// interpolation). Values are copied unscaled, exactly like RELION; callers that want the real
// space mean preserved after an inverse transform scale by (new N / old N) themselves.

import Foundation

/// Windows a half-complex spectrum of a real array of `shape` into one of `newShape` (same number
/// of dimensions): frequencies present in both are copied, the others are zero.
public func fourierWindow(_ input: UnsafeBufferPointer<Complex32>, shape: [Int],
                          _ output: UnsafeMutableBufferPointer<Complex32>, newShape: [Int]) throws {
    guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { throw FourierError.invalidShape(shape) }
    guard newShape.count == shape.count, newShape.allSatisfy({ $0 >= 1 }) else {
        throw FourierError.invalidShape(newShape)
    }
    let d = shape.count
    var inSpec = shape, outSpec = newShape
    inSpec[d - 1] = shape[d - 1] / 2 + 1
    outSpec[d - 1] = newShape[d - 1] / 2 + 1
    let inCount = inSpec.reduce(1, *), outCount = outSpec.reduce(1, *)
    guard input.count == inCount else {
        throw FourierError.sizeMismatch(expected: inCount, got: input.count, what: "Fourier window input")
    }
    guard output.count == outCount else {
        throw FourierError.sizeMismatch(expected: outCount, got: output.count, what: "Fourier window output")
    }
    // For each axis but the last, the input index feeding each output index (or −1).
    var maps: [[Int]] = []
    for a in 0..<(d - 1) {
        let n = shape[a], m = newShape[a]
        maps.append((0..<m).map { j in
            let f = fourierFrequency(j, m)
            let i = f >= 0 ? f : f + n
            return (i >= 0 && i < n && fourierFrequency(i, n) == f) ? i : -1
        })
    }
    let keepX = min(inSpec[d - 1], outSpec[d - 1])
    let inRow = inSpec[d - 1], outRow = outSpec[d - 1]
    let rows = outCount / outRow
    let src = input.baseAddress!, dst = output.baseAddress!
    var pos = [Int](repeating: 0, count: max(0, d - 1))
    for r in 0..<rows {
        // Source row for output row r (odometer over the leading axes).
        var srcRow = 0
        var ok = true
        for a in 0..<(d - 1) {
            let i = maps[a][pos[a]]
            if i < 0 { ok = false; break }
            srcRow = srcRow * shape[a] + i
        }
        let o = dst + r * outRow
        if ok {
            let s = src + srcRow * inRow
            o.update(from: s, count: keepX)
            if outRow > keepX { (o + keepX).update(repeating: .zero, count: outRow - keepX) }
        } else {
            o.update(repeating: .zero, count: outRow)
        }
        var a = d - 2
        while a >= 0 {
            pos[a] += 1
            if pos[a] < newShape[a] { break }
            pos[a] = 0
            a -= 1
        }
    }
}

/// Array form of `fourierWindow(_:shape:_:newShape:)`: returns the spectrum windowed to `newShape`.
public func fourierWindow(_ spectrum: [Complex32], shape: [Int], newShape: [Int]) throws -> [Complex32] {
    guard newShape.count == shape.count, newShape.allSatisfy({ $0 >= 1 }) else {
        throw FourierError.invalidShape(newShape)
    }
    var out = newShape
    out[out.count - 1] = newShape[newShape.count - 1] / 2 + 1
    var result = [Complex32](repeating: .zero, count: out.reduce(1, *))
    try spectrum.withUnsafeBufferPointer { s in
        try result.withUnsafeMutableBufferPointer { try fourierWindow(s, shape: shape, $0, newShape: newShape) }
    }
    return result
}
