// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix demo`, section 1: the reference text's Dataset1/Dataset2 joined like JoinStar.

import Testing
import Foundation
import AngpixSTAR
import AngpixTestSupport

@Suite struct StarDemoTests {
    @Test func demoJoinsDataset1AndDataset2() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("demo")
        let r = try runAngpix(["demo", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("optics group 1 'dataset2' renumbered to 2"))
        let doc = try STARDocument(path: (out as NSString).appendingPathComponent("joined.star"))
        let optics = try OpticsTable(block: try #require(doc.block("optics")), file: "joined.star")
        #expect(optics.groups.map(\.name) == ["dataset1", "dataset2"])
        #expect(optics.groups.map(\.imagePixelSize) == [1.0, 1.1])
        #expect(optics.groups.map(\.imageSize) == [140, 128])
        // A second run needs --force.
        let again = try runAngpix(["demo", "--out", out])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))
    }
}
