// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix-bench fft: real FFT throughput (forward rfftn + inverse irfftn) of angpix on one and on
// two threads, side by side with scipy.fft (pocketfft; float32, workers=1) measured in the same
// run by a python3 subprocess. Batches of images are run as 10 rounds of 1/10 of the images so
// that memory stays small; every figure is the best of --repeats runs.

import ArgumentParser
import Foundation
import AngpixCore
import AngpixFourier

struct FFTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fft",
        abstract: "Times angpix's real FFT (forward + inverse) against scipy.fft on volumes and image batches.",
        discussion: "Example: swift run -c release angpix-bench fft --repeats 5"
    )

    @Option(help: "Cases: NxN^3 volumes or COUNTxN^2 image batches, comma separated.")
    var cases = "256^3,128^3,1000x256^2,1000x200^2,1000x180^2"

    @Option(help: "Runs per measurement (the best is kept).")
    var repeats = 3

    @Flag(help: "Do not run scipy.")
    var noScipy = false

    @Flag(help: "Only run angpix on one thread (for profiling, e.g. under valgrind --tool=callgrind).")
    var singleThreadOnly = false

    @Flag(help: "Measure process CPU time instead of wall time (steadier on a busy machine; for 2 threads it is the sum over both).")
    var cpuTime = false

    func now() -> Double {
        if cpuTime {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        return Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    struct Case { var label: String; var shape: [Int]; var count: Int }

    func parse(_ text: String) throws -> Case {
        let t = text.trimmingCharacters(in: .whitespaces)
        var count = 1
        var body = Substring(t)
        if let x = t.firstIndex(of: "x") {
            guard let c = Int(t[..<x]) else { throw ValidationError("bad case \(t)") }
            count = c
            body = t[t.index(after: x)...]
        }
        let parts = body.split(separator: "^")
        guard let n = Int(parts[0]), parts.count == 2, let d = Int(parts[1]), n > 0, (1...3).contains(d) else {
            throw ValidationError("bad case \(t): use 256^3 or 1000x200^2")
        }
        return Case(label: t, shape: [Int](repeating: n, count: d), count: count)
    }

    /// Seconds for forward + inverse of the whole case with `threads` threads (best of repeats).
    func timeAngpix(_ c: Case, threads: Int) throws -> Double {
        let plan = try RealFFTPlan(shape: c.shape)
        let rounds = c.count >= 10 ? 10 : 1
        let per = c.count / rounds
        var input = [Float](repeating: 0, count: per * plan.realCount)
        var seed: UInt32 = 12345
        for i in input.indices { seed = seed &* 1664525 &+ 1013904223; input[i] = Float(seed >> 8) / Float(1 << 24) - 0.5 }
        var spectrum = [Complex32](repeating: .zero, count: per * plan.spectrumCount)
        var output = [Float](repeating: 0, count: input.count)
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = now()
            for _ in 0..<rounds {
                input.withUnsafeBufferPointer { inp in
                    spectrum.withUnsafeMutableBufferPointer { spec in
                        if per == 1 { plan.forward(inp, spec, threads: threads) }
                        else { plan.forward(batch: inp, spec, count: per, threads: threads) }
                    }
                }
                spectrum.withUnsafeBufferPointer { spec in
                    output.withUnsafeMutableBufferPointer { out in
                        if per == 1 { plan.inverse(spec, out, threads: threads) }
                        else { plan.inverse(batch: spec, out, count: per, threads: threads) }
                    }
                }
            }
            best = min(best, now() - start)
        }
        var err: Float = 0
        for i in 0..<min(input.count, 100_000) { err = max(err, abs(output[i] - input[i])) }
        if err > 1e-4 { throw ValidationError("round trip error \(err) for \(c.label)") }
        return best
    }

    /// scipy.fft times for all cases (nil where python3/scipy is missing).
    func timeScipy(_ cases: [Case]) -> [Double?] {
        let script = """
        import sys, time
        import numpy as np
        import scipy.fft as F
        reps = int(sys.argv[1])
        clock = time.process_time if sys.argv[2] == 'cpu' else time.perf_counter
        for arg in sys.argv[3:]:
            count, n, d = (int(v) for v in arg.split(':'))
            rounds = 10 if count >= 10 else 1
            per = count // rounds
            shape = (per,) + (n,) * d if per > 1 else (n,) * d
            axes = tuple(range(len(shape) - d, len(shape)))
            x = np.random.default_rng(1).random(shape, dtype=np.float32) - 0.5
            best = 1e30
            for _ in range(reps):
                t = clock()
                for _ in range(rounds):
                    X = F.rfftn(x, axes=axes, workers=1)
                    y = F.irfftn(X, s=[n] * d, axes=axes, workers=1)
                best = min(best, clock() - t)
            assert X.dtype == np.complex64 and y.dtype == np.float32
            print(best, flush=True)
        """
        let args = cases.map { "\($0.count):\($0.shape[0]):\($0.shape.count)" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, String(max(1, repeats)), cpuTime ? "cpu" : "wall"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return cases.map { _ in nil } }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map { Double($0) }
        return cases.indices.map { $0 < lines.count ? lines[$0] : nil }
    }

    func run() throws {
        let list = try cases.split(separator: ",").map { try parse(String($0)) }
        let scipy = noScipy ? list.map { _ in nil } : timeScipy(list)
        func r(_ a: Double, _ b: Double?) -> String { b.map { formatFixed(a / $0, decimals: 2) } ?? "-" }
        print("FFT forward+inverse, float32 (\(cpuTime ? "CPU" : "wall") seconds, best of \(repeats)); ratio = angpix / scipy (lower is better)")
        print("case           angpix-1t  angpix-2t  scipy-1t  ratio-1t  ratio-2t")
        for (i, c) in list.enumerated() {
            let t1 = try timeAngpix(c, threads: 1)
            let t2 = singleThreadOnly ? nil : try timeAngpix(c, threads: 2)
            let s = scipy[i]
            print(c.label.padding(toLength: 14, withPad: " ", startingAt: 0),
                  formatFixed(t1, decimals: 4, missing: "-").leftPad(10), formatFixed(t2, decimals: 4, missing: "-").leftPad(10), formatFixed(s, decimals: 4, missing: "-").leftPad(9), r(t1, s).leftPad(9), (t2.map { r($0, s) } ?? "-").leftPad(9))
        }
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
