// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A generated particle set for the tests: a few stacks of small band-limited images (sums of
// cosines with known frequencies, so that the exact Fourier rescale is known in closed form) and a
// RELION 3.1 particle STAR file that references them out of order.

import Foundation
import AngpixCore
import AngpixMRC
import AngpixTestSupport

/// One cosine term of a generated image: amplitude, frequency (cycles per box) and phase.
struct Wave {
    var amplitude: Double, kx: Int, ky: Int, phase: Double
}

/// The band-limited image Σ A cos(2π(kx x + ky y)/box + φ) + offset on a box² grid.
func bandLimitedImage(_ waves: [Wave], offset: Double, box: Int) -> [Float] {
    var out = [Float](repeating: 0, count: box * box)
    for y in 0..<box {
        for x in 0..<box {
            var v = offset
            for w in waves {
                v += w.amplitude * cos(2 * Double.pi * Double(w.kx * x + w.ky * y) / Double(box) + w.phase)
            }
            out[y * box + x] = Float(v)
        }
    }
    return out
}

/// The waves of image `n` of stack `s` (frequencies below 12 cycles per box).
func waves(stack s: Int, image n: Int) -> [Wave] {
    var state = UInt64(0x1234_5678 &+ s &* 7919 &+ n &* 104_729)
    func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    return (0..<5).map { _ in
        Wave(amplitude: 0.5 + next(), kx: Int(next() * 23) - 11, ky: Int(next() * 23) - 11, phase: next() * 6.28)
    }
}

/// A generated particle set under `root`: stacks Extract/job007/Movies/micK.mrcs with `images[k]`
/// images of `box`² at `pixelSize`, and `particles.star` whose rows visit the stacks interleaved.
struct ParticleSetFixture {
    let root: String
    let box: Int
    let pixelSize: Double
    let images: [Int]
    /// (stack, image number from 1) of each particle row, in file order.
    let rows: [(stack: Int, index: Int)]

    static func stackPath(_ k: Int) -> String { "Extract/job007/Movies/mic\(k).mrcs" }

    init(root: String, box: Int = 64, pixelSize: Double = 1.0, images: [Int] = [5, 3, 4],
         skipImage: Bool = true, secondGroupStacks: Set<Int> = []) throws {
        self.root = root
        self.box = box
        self.pixelSize = pixelSize
        self.images = images
        try FileManager.default.createDirectory(atPath: root + "/Extract/job007/Movies", withIntermediateDirectories: true)
        for (k, count) in images.enumerated() {
            let writer = try MRCStackWriter(path: root + "/" + ParticleSetFixture.stackPath(k), nx: box, ny: box,
                                            pixelSize: pixelSize, policy: OutputPolicy())
            for n in 0..<count {
                try writer.append(bandLimitedImage(waves(stack: k, image: n), offset: Double(k) - 0.5, box: box))
            }
            try writer.commit()
        }
        // Rows: round-robin over the stacks, image 2 of stack 0 left out (stacks are rescaled whole).
        var rows: [(Int, Int)] = []
        for n in 1...(images.max() ?? 0) {
            for k in images.indices where n <= images[k] && !(skipImage && k == 0 && n == 2) {
                rows.append((k, n))
            }
        }
        self.rows = rows
        var groups = [TestOpticsGroup(name: "opticsGroup1", pixelSize: String(format: "%.6f", pixelSize),
                                      originalPixelSize: "0.885000", box: box)]
        if !secondGroupStacks.isEmpty {
            groups.append(TestOpticsGroup(number: 2, name: "opticsGroup2", pixelSize: "0.900000", box: box))
        }
        var text = relionOpticsBlock(groups)
        text += """


        # version 30001

        data_particles

        loop_
        _rlnCoordinateX #1
        _rlnCoordinateY #2
        _rlnImageName #3
        _rlnMicrographName #4
        _rlnOpticsGroup #5
        _rlnDefocusU #6
        _rlnDefocusV #7
        _rlnDefocusAngle #8
        _rlnAngleRot #9
        _rlnAngleTilt #10
        _rlnAnglePsi #11
        _rlnOriginXAngst #12
        _rlnOriginYAngst #13

        """
        for (r, row) in rows.enumerated() {
            let image = String(format: "%06d", row.1) + "@" + ParticleSetFixture.stackPath(row.0)
            text += String(format: "%10.6f %10.6f ", 100.0 + Double(r), 200.0 + Double(r)) + image
                + " MotionCorr/job002/Movies/mic\(row.0).mrc \(secondGroupStacks.contains(row.0) ? 2 : 1) "
                + String(format: "%.6f %.6f 12.5 %.3f %.3f %.3f %.6f %.6f\n", 10000.0 + Double(r), 9800.0 + Double(r),
                         Double(r), 90.0, -Double(r), 1.25 * Double(r % 3), -0.75)
        }
        text += "\n"
        try text.write(toFile: root + "/particles.star", atomically: false, encoding: .utf8)
    }

    var starPath: String { root + "/particles.star" }
}

/// Reads a whole stack: (nx, count, pixel size, data).
func readStack(_ path: String) throws -> (box: Int, count: Int, pixelSize: Double, data: [Float]) {
    let reader = try MRCStackReader(path: path)
    var data = [Float](repeating: 0, count: reader.nx * reader.ny * reader.count)
    try data.withUnsafeMutableBufferPointer { try reader.readImages(0..<reader.count, into: $0) }
    return (reader.nx, reader.count, reader.pixelSize, data)
}
