// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix-bench: throughput of angpix side by side with the field's tools, as ratios.
// Large inputs are generated into ./bench-data (never committed).

import ArgumentParser

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "angpix-bench",
        abstract: "Benchmarks of angpix against RELION, starfile, gemmi, scipy and others, in one run.",
        discussion: "Example: swift run -c release angpix-bench star",
        subcommands: [StarBench.self, FFTBench.self, MapBench.self, ParticlesBench.self, PostprocessBench.self, CalibrateBench.self, RingsBench.self, RefineBench.self, CsBench.self]
    )
}
