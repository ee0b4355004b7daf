// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Compares RealFFTPlan with numpy.fft.rfftn / irfftn (computed in float64 by a python3
// subprocess on the same deterministic input, exchanged through binary files).

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixFourier

/// Whether `python3 -c "import numpy"` works on this machine.
let hasNumpy: Bool = {
    (try? runProcess("/usr/bin/env", ["python3", "-c", "import numpy"]).status) == 0
}()

func writeFloats(_ values: [Float], to path: String) throws {
    let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
    try data.write(to: URL(fileURLWithPath: path))
}

func readFloats(_ path: String) throws -> [Float] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

@Test("rfftn and irfftn agree with numpy",
      .enabled(if: hasNumpy, "python3 with numpy is not installed; numpy comparison skipped"),
      arguments: [[1], [2], [3], [7], [64], [97], [100], [128], [140], [180], [200], [256], [360],
                  [10, 14], [33, 20], [7, 9, 11], [16, 12, 10], [24, 24, 24]])
func agreesWithNumpy(shape: [Int]) throws {
    let dir = TemporaryDirectory("fourier-numpy")
    let plan = try RealFFTPlan(shape: shape)
    let x = randomFloats(plan.realCount, seed: 1234)
    // An arbitrary (non-Hermitian) half-complex spectrum, to compare the inverses.
    let s = randomFloats(2 * plan.spectrumCount, seed: 4321)
    try writeFloats(x, to: dir.file("x.f32"))
    try writeFloats(s, to: dir.file("s.f32"))
    let script = """
    import numpy as np, sys
    shape = tuple(int(v) for v in sys.argv[2].split(','))
    d = sys.argv[1]
    x = np.fromfile(d + '/x.f32', dtype=np.float32).astype(np.float64).reshape(shape)
    X = np.fft.rfftn(x).astype(np.complex64)
    X.tofile(d + '/X.f32')
    hs = shape[:-1] + (shape[-1] // 2 + 1,)
    s = np.fromfile(d + '/s.f32', dtype=np.float32).astype(np.float64)
    S = (s[0::2] + 1j * s[1::2]).reshape(hs)
    y = np.fft.irfftn(S, s=shape, axes=tuple(range(len(shape)))).astype(np.float32)
    y.tofile(d + '/y.f32')
    """
    let r = try runProcess("/usr/bin/env", ["python3", "-c", script, dir.path,
                                            shape.map(String.init).joined(separator: ",")])
    #expect(r.status == 0, "python3 failed: \(r.stderr)")
    let expectedX = try readFloats(dir.file("X.f32"))
    let expectedY = try readFloats(dir.file("y.f32"))
    let gotX = plan.forward(x)
    let ref = (0..<plan.spectrumCount).map { (Double(expectedX[2 * $0]), Double(expectedX[2 * $0 + 1])) }
    let errX = relativeError(gotX, ref)
    #expect(errX < 2e-6, "shape \(shape): forward relative error \(errX)")
    let spectrum = (0..<plan.spectrumCount).map { Complex32(s[2 * $0], s[2 * $0 + 1]) }
    let gotY = plan.inverse(spectrum)
    let scaleY = expectedY.reduce(1e-30) { max($0, Double(abs($1))) }
    let errY = maxAbsDifference(gotY, expectedY) / scaleY
    #expect(errY < 2e-6, "shape \(shape): inverse relative error \(errY)")
}
