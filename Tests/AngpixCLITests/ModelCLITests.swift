// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix model info`.

import Foundation
import Testing
import AngpixTestSupport

@Test func testModelInfoJSONCounts1ORC() throws {
    let path = try fixture("1orc.pdb")
    let result = try runAngpix(["model", "info", path, "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect(json["atoms"] as? Int == 559)
    #expect(json["atomsForMaps"] as? Int == 553)
    #expect((json["elements"] as? [String: Int])?["S"] == 1)
    #expect((json["boundingBoxMin"] as? [Double])?.count == 3)
}

@Test func testModelInfoTextNamesAtomsAndBFactors() throws {
    let path = try fixture("5cvz_final.pdb")
    let result = try runAngpix(["model", "info", path])
    #expect(result.status == 0)
    #expect(result.stdout.contains("atoms:           1061"))
    #expect(result.stdout.contains("B-factor:"))
}

@Test func testModelInfoOnAFileThatIsNotAModelFails() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("notes.txt", "this is not a model\n")
    let result = try runAngpix(["model", "info", path])
    #expect(result.status == 1)
    #expect(result.stderr.contains("\(path): no ATOM/HETATM records"))
}
