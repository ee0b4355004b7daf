// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The plan of a particle-set rescale: RELION's box rounding, stack mapping, shards, bad records.

import Testing
@testable import AngpixParticles

private let twoGroups = [
    PlanOpticsGroup(number: 1, name: "dataset1", pixelSize: 1.0, imageSize: 64),
    PlanOpticsGroup(number: 2, name: "dataset2", pixelSize: 1.1, imageSize: 128),
]

@Test func testRelionRoundsTheBoxThenDropsOneIfOdd() {
    // 64 px at 1 Å to 1.3 Å: 49.23 → 49 → 48 (what relion_image_handler 3.1.3 writes), 1.3333 Å reached.
    #expect((try? GroupRescale(opticsGroup: 1, oldPixelSize: 1.0, oldBox: 64, target: 1.3, box: nil))?.rescaledBox == 48)
    #expect((try? GroupRescale(opticsGroup: 1, oldPixelSize: 1.0, oldBox: 256, target: 1.28, box: nil))?.rescaledBox == 200)
    #expect((try? GroupRescale(opticsGroup: 1, oldPixelSize: 1.5, oldBox: 64, target: 2.0, box: nil))?.rescaledBox == 48)
    #expect((try? GroupRescale(opticsGroup: 1, oldPixelSize: 1.0, oldBox: 100, target: 0.5, box: nil))?.rescaledBox == 200)
    let g = try! GroupRescale(opticsGroup: 1, oldPixelSize: 1.0, oldBox: 64, target: 1.3, box: nil)
    #expect(g.rescaledBox == 48 && g.finalBox == 48)
    #expect(abs(g.newPixelSize - 64.0 / 48.0) < 1e-12)
    let boxed = try! GroupRescale(opticsGroup: 1, oldPixelSize: 1.0, oldBox: 64, target: 1.3, box: 40)
    #expect(boxed.rescaledBox == 48 && boxed.finalBox == 40 && abs(boxed.newPixelSize - 64.0 / 48.0) < 1e-12)
}

@Test func testEachStackIsPlannedOnceWithItsHighestImageAndMirroredPath() throws {
    let names = ["000001@Extract/job007/b.mrcs", "000003@Extract/job007/a.mrcs", "2@Extract/job007/b.mrcs",
                 "000001@./Extract//job007/a.mrcs", "000001@../other/c.mrcs", "7@/abs/d.mrcs"]
    let plan = try ParticleSetPlan(file: "in.star", imageNames: names, rowGroups: [1, 1, 1, 1, 2, 2],
                                   optics: twoGroups, settings: RescaleSettings(pixelSize: 1.25))
    // Sorted by output path ("E" < "_" < "a" in byte order).
    #expect(plan.stacks.map(\.outputPath) == ["Extract/job007/a.mrcs", "Extract/job007/b.mrcs",
                                              "_parent_/other/c.mrcs", "abs/d.mrcs"])
    let a = plan.stacks.first { $0.outputPath == "Extract/job007/a.mrcs" }!
    #expect(a.maxIndex == 3 && a.particleCount == 2 && a.firstRow == 2)
    let b = plan.stacks.first { $0.outputPath == "Extract/job007/b.mrcs" }!
    #expect(b.maxIndex == 2 && b.particleCount == 2 && b.rescale?.rescaledBox == 50)  // 64 × 1/1.25 = 51.2 → 51 → 50
    let c = plan.stacks.first { $0.path == "../other/c.mrcs" }!
    #expect(c.outputPath == "_parent_/other/c.mrcs" && c.rescale?.rescaledBox == 112)  // 128 × 1.1/1.25 = 112.64 → 113 → 112
    let d = plan.stacks.first { $0.path == "/abs/d.mrcs" }!
    #expect(d.outputPath == "abs/d.mrcs" && d.maxIndex == 7)
    // Names keep the image number text and change only the path.
    #expect(plan.newImageName(names[0], row: 0, outputPrefix: "Rescaled") == "000001@Rescaled/Extract/job007/b.mrcs")
    #expect(plan.newImageName(names[2], row: 2, outputPrefix: "out/") == "2@out/Extract/job007/b.mrcs")
    #expect(plan.newImageName(names[4], row: 4, outputPrefix: "/data/R") == "000001@/data/R/_parent_/other/c.mrcs")
}

@Test func testOnlySelectedGroupsAreRescaledAndOthersKeepTheirNames() throws {
    let names = ["1@a.mrcs", "1@b.mrcs"]
    let plan = try ParticleSetPlan(file: "in.star", imageNames: names, rowGroups: [1, 2], optics: twoGroups,
                                   settings: RescaleSettings(pixelSize: 1.0, box: 64, groups: ["dataset2"]))
    #expect(plan.groups.keys.sorted() == [2])
    #expect(plan.groups[2]!.rescaledBox == 140 && plan.groups[2]!.finalBox == 64)
    #expect(plan.stacks[0].rescale == nil)
    #expect(plan.newImageName(names[0], row: 0, outputPrefix: "R") == "1@a.mrcs")
    #expect(plan.newImageName(names[1], row: 1, outputPrefix: "R") == "1@R/b.mrcs")
    #expect(throws: ParticlesError.unknownGroup(file: "in.star", group: "7")) {
        try ParticleSetPlan(file: "in.star", imageNames: names, rowGroups: [1, 2], optics: twoGroups,
                            settings: RescaleSettings(pixelSize: 1.0, groups: ["7"]))
    }
}

@Test func testShardsSplitSortedStacksRoundRobinAndCoverEveryParticleOnce() throws {
    var names: [String] = []
    for s in 0..<7 { for i in 1...3 { names.append("\(i)@Extract/mic\(6 - s).mrcs") } }
    let plan = try ParticleSetPlan(file: "in.star", imageNames: names, rowGroups: nil, optics: [twoGroups[0]],
                                   settings: RescaleSettings(pixelSize: 2.0), shardCount: 3)
    #expect(plan.stacks.map(\.path) == (0..<7).map { "Extract/mic\($0).mrcs" })
    #expect(plan.stacks.map(\.shard) == [1, 2, 3, 1, 2, 3, 1])
    var all: [Int] = []
    for s in 1...3 {
        let rows = plan.rows(inShard: s)
        #expect(rows == rows.sorted())
        #expect(rows.allSatisfy { plan.stacks[Int(plan.rowStack[$0])].shard == s })
        all += rows
    }
    #expect(all.sorted() == Array(0..<names.count))
}

@Test func testBadRecordsAreNamedByParticleNumber() {
    #expect(throws: ParticlesError.badRecord(file: "in.star", row: 2, reason: "rlnImageName '0@a.mrcs' is not N@stack")) {
        try ParticleSetPlan(file: "in.star", imageNames: ["1@a.mrcs", "0@a.mrcs"], rowGroups: [1, 1],
                            optics: twoGroups, settings: RescaleSettings(pixelSize: 1.0))
    }
    #expect(throws: ParticlesError.badRecord(file: "in.star", row: 1, reason: "rlnOpticsGroup 3 is not in the optics table")) {
        try ParticleSetPlan(file: "in.star", imageNames: ["1@a.mrcs"], rowGroups: [3],
                            optics: twoGroups, settings: RescaleSettings(pixelSize: 1.0))
    }
    // One stack, two groups rescaled differently.
    let mixed = #expect(throws: ParticlesError.self) {
        try ParticleSetPlan(file: "in.star", imageNames: ["1@a.mrcs", "2@a.mrcs"], rowGroups: [1, 2],
                            optics: twoGroups, settings: RescaleSettings(pixelSize: 1.0))
    }
    #expect(mixed?.description.hasPrefix("in.star: particle 2: stack a.mrcs also holds particles of optics group 1") == true,
            "\(String(describing: mixed))")
    #expect(throws: ParticlesError.invalidOption("--box 63: the box must be even and at least 2")) {
        try ParticleSetPlan(file: "in.star", imageNames: ["1@a.mrcs"], rowGroups: [1], optics: twoGroups,
                            settings: RescaleSettings(pixelSize: 1.0, box: 63))
    }
    let volume = #expect(throws: ParticlesError.self) {
        try ParticleSetPlan(file: "in.star", imageNames: ["1@a.mrcs"], rowGroups: [1],
                            optics: [PlanOpticsGroup(number: 1, name: "t", pixelSize: 1, imageSize: 64, dimensionality: 3)],
                            settings: RescaleSettings(pixelSize: 1.0))
    }
    #expect(volume?.description.hasPrefix("in.star: optics group 1: rlnImageDimensionality is 3") == true,
            "\(String(describing: volume))")
    let collision = #expect(throws: ParticlesError.self) {
        try ParticleSetPlan(file: "in.star", imageNames: ["1@/x/a.mrcs", "1@x/a.mrcs"], rowGroups: [1, 1],
                            optics: twoGroups, settings: RescaleSettings(pixelSize: 1.0))
    }
    // Names both stacks (the files that collide).
    #expect(collision?.description.contains("/x/a.mrcs and x/a.mrcs") == true || collision?.description.contains("x/a.mrcs and /x/a.mrcs") == true,
            "\(String(describing: collision))")
}

@Test func testChecksumChangesWithAnyImageByteAndOrder() {
    func sum(_ images: [[Float]]) -> String {
        var c = ImageDataChecksum()
        for im in images { im.withUnsafeBytes { c.add($0) } }
        return c.hex
    }
    let a: [Float] = (0..<36).map { Float($0) }, b: [Float] = (0..<36).map { Float($0) * 0.5 }
    var a2 = a; a2[35] = 35.0001
    #expect(sum([a, b]) == sum([a, b]))
    #expect(sum([a, b]) != sum([b, a]))
    #expect(sum([a, b]) != sum([a2, b]))
    #expect(sum([a]) != sum([a, b]))
    #expect(sum([a]).count == 16)
}

