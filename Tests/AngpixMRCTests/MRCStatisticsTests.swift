// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// MRCStatistics on values sitting on large offsets (issue 15): a scan image of counts near 3·10⁵
// gave rms 52.28 where mrcfile and relion_image_handler give 15.6534, and 0 once shifted by
// 7·10⁵, because Σx² − n·mean² was accumulated in Float lanes. Checked against a two-pass
// computation in Double (what numpy's mean and std do) for offsets up to 10⁷, for the serial
// path, the threaded path (more than 2²⁰ values) and merged parts (MRCStackWriter's way).

import Foundation
import Testing
import AngpixCore
import AngpixMRC

private func reference(_ v: [Float]) -> (mean: Double, rms: Double) {
    let n = Double(v.count)
    let mean = v.reduce(0.0) { $0 + Double($1) } / n
    let ss = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) }
    return (mean, (ss / n).squareRoot())
}

private func values(count: Int, offset: Double, sd: Double, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        let u = Double(rng.next() >> 11) / Double(1 << 53) - 0.5
        return Float(offset + sd * 3.46 * u)
    }
}

@Suite("MRC statistics on large offsets")
struct MRCStatisticsTests {
    @Test("Mean and RMS agree with a two-pass Double computation for offsets up to 1e7",
          arguments: [0.0, 3e5, 7e5, 1e6, 1e7, -1e7])
    func offsets(offset: Double) {
        for count in [1, 7, 1000, 4096 + 3, 3 << 20] {
            let v = values(count: count, offset: offset, sd: 15.6534, seed: UInt64(count))
            let s = MRCStatistics.of(v)
            let r = reference(v)
            #expect(s.count == count)
            #expect(abs(s.mean - r.mean) <= 1e-12 * abs(r.mean) + 1e-12, "offset \(offset), \(count) values: mean \(s.mean) vs \(r.mean)")
            let rmsError = r.rms > 0 ? abs(s.rms - r.rms) / r.rms : s.rms
            #expect(rmsError <= 1e-9, "offset \(offset), \(count) values: rms \(s.rms) vs \(r.rms)")
        }
    }

    @Test("Merging parts (a stack written image by image) gives the statistics of the whole")
    func merged() {
        let v = values(count: 50_000, offset: 3e5, sd: 15.6534, seed: 3)
        var merged = MRCStatistics()
        var k = 0
        for size in [1, 999, 1024, 7, 20_000, 27_969] {
            merged.merge(MRCStatistics.of(Array(v[k..<(k + size)])))
            k += size
        }
        let r = reference(v)
        #expect(merged.count == v.count)
        #expect(abs(merged.rms - r.rms) / r.rms <= 1e-9)
        #expect(abs(merged.mean - r.mean) / r.mean <= 1e-12)
    }

    @Test("NaN and infinities are counted apart and left out")
    func nonFinite() {
        var v = values(count: 3000, offset: 7e5, sd: 2, seed: 4)
        let finite = v
        v.insert(.nan, at: 17); v.insert(.infinity, at: 2000); v.append(-.infinity)
        let s = MRCStatistics.of(v)
        let r = reference(finite)
        #expect(s.nonFinite == 3 && s.count == finite.count)
        #expect(abs(s.rms - r.rms) / r.rms <= 1e-9)
        var empty = MRCStatistics()
        empty.merge(MRCStatistics.of([Float.nan]))
        #expect(empty.count == 0 && empty.nonFinite == 1 && empty.mean == 0 && empty.rms == 0)
    }
}
