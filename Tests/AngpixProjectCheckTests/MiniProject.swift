// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A generated mini RELION project for the check tests: STAR files written as text, maps and
// particle stacks written with the MRC module, all in a temporary folder.

import Foundation
import AngpixCore
import AngpixMRC
import AngpixTestSupport

/// One optics group row of a test file.
struct TestGroup {
    var number: Int
    var name: String
    var pixelSize: Double
    var box: Int
    var voltage = 300.0
    var cs = 2.7
    var extra: [String: String] = [:]
}

final class MiniProject {
    let dir = TemporaryDirectory("check")
    var root: String { dir.path }

    /// A RELION 3.1 particle file: the optics groups and one particle row per entry of `particles`
    /// (the optics group number and the image name), plus `extraParticleColumns`.
    @discardableResult
    func star(_ name: String, groups: [TestGroup], particles: [(group: Int, image: String)],
              extraParticleColumns: [String: [String]] = [:], opticsGroupColumn: Bool = true) -> String {
        var text = "# version 30001\n\ndata_optics\n\nloop_\n"
        var labels = ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                      "rlnVoltage", "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality"]
        let extraLabels = Array(Set(groups.flatMap { $0.extra.keys })).sorted()
        labels += extraLabels
        for (i, l) in labels.enumerated() { text += "_\(l) #\(i + 1)\n" }
        for g in groups {
            var row = ["\(g.number)", g.name, "0.100000", String(format: "%.6f", g.cs), String(format: "%.6f", g.voltage),
                       String(format: "%.6f", g.pixelSize), "\(g.box)", "2"]
            row += extraLabels.map { g.extra[$0] ?? "None" }
            text += row.joined(separator: " ") + "\n"
        }
        text += "\n\n# version 30001\n\ndata_particles\n\nloop_\n"
        var plabels = ["rlnImageName", "rlnMicrographName", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"]
        if opticsGroupColumn { plabels.append("rlnOpticsGroup") }
        let extra = extraParticleColumns.keys.sorted()
        plabels += extra
        for (i, l) in plabels.enumerated() { text += "_\(l) #\(i + 1)\n" }
        for (r, p) in particles.enumerated() {
            var row = [p.image, "MotionCorr/job002/mic\(r % 3).mrc", "10000.0", "10100.0", "12.0"]
            if opticsGroupColumn { row.append("\(p.group)") }
            row += extra.map { extraParticleColumns[$0]![r] }
            text += row.joined(separator: "\t") + "\n"
        }
        return dir.write(name, text)
    }

    /// A map (or a stack with `isStack`) of n×n×nz with a smooth blob, at `pixelSize` Å/px.
    @discardableResult
    func map(_ name: String, n: Int, nz: Int? = nil, pixelSize: Double, isStack: Bool = false) throws -> String {
        let nz = nz ?? n
        var data = [Float](repeating: 0, count: n * n * nz)
        let c = Double(n) / 2
        for z in 0..<nz { for y in 0..<n { for x in 0..<n {
            let r2 = (Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c)
                + (isStack ? 0 : (Double(z) - c) * (Double(z) - c))
            data[(z * n + y) * n + x] = Float(exp(-r2 / Double(n)))
        } } }
        let path = dir.file(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try MRCFile.write(MRCMap(nx: n, ny: n, nz: nz, pixelSize: pixelSize, data: data), to: path,
                          policy: OutputPolicy(), isStack: isStack)
        return path
    }

    /// A RELION postprocess.star for half maps of `box` at `pixelSize` Å/px (data_general and data_fsc).
    @discardableResult
    func postprocessStar(_ name: String, half1: String, half2: String, box: Int, pixelSize: Double,
                         finalResolution: Double) -> String {
        var text = "\n# version 30001\n\ndata_general\n\n"
        text += "_rlnFinalResolution \(String(format: "%.6f", finalResolution))\n_rlnBfactorUsedForSharpening -50.0\n"
        text += "_rlnUnfilteredMapHalf1 \(half1)\n_rlnUnfilteredMapHalf2 \(half2)\n_rlnMaskName MaskCreate/job020/mask.mrc\n_rlnRandomiseFrom 12.0\n\n"
        text += "# version 30001\n\ndata_fsc\n\nloop_\n_rlnSpectralIndex #1\n_rlnResolution #2\n_rlnAngstromResolution #3\n_rlnFourierShellCorrelationCorrected #4\n"
        for i in 0...(box / 2) {
            let res = Double(i) / (Double(box) * pixelSize)
            let ang = i == 0 ? 999.0 : 1 / res
            text += "\(i) \(String(format: "%.6f", res)) \(String(format: "%.6f", ang)) \(String(format: "%.6f", max(0, 1 - Double(i) / Double(box / 2))))\n"
        }
        return dir.write(name, text)
    }
}
