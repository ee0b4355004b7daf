// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Writing changed documents (unchanged cells keep their text), building blocks, and RELION's
// optics/particle/image-name model.

import Testing
import Foundation
@testable import AngpixSTAR
import AngpixCore
import AngpixTestSupport

@Suite struct WriterTests {
    @Test func changedBlockKeepsUnchangedValuesText() throws {
        let doc = try STARDocument(text: dataset1)
        let particles = try #require(doc.block("particles"))
        particles.setColumn("rlnOpticsGroup", ["2", "2"])
        particles.setColumn("rlnNewLabel", ["a b", ""])
        let text = doc.serialized()
        // The optics block is untouched and copied exactly.
        #expect(text.hasPrefix(String(dataset1.prefix(upTo: dataset1.range(of: "data_particles")!.lowerBound))))
        let again = try STARDocument(text: text)
        let p2 = try #require(again.block("particles"))
        #expect(p2.labels == ["rlnCoordinateX", "rlnImageName", "rlnDefocusU", "rlnOpticsGroup", "rlnNewLabel"])
        #expect(try p2.strings("rlnDefocusU") == ["1.4e-05", "-2.00000"])
        #expect(try p2.strings("rlnCoordinateX") == ["100.000000", "200.500000"])
        #expect(try p2.ints("rlnOpticsGroup") == [2, 2])
        #expect(try p2.strings("rlnNewLabel") == ["a b", ""])
        #expect(text.contains("_rlnNewLabel #5"))
    }

    @Test func builtBlocksRoundTrip() throws {
        let loop = STARBlock(name: "optics", labels: ["rlnOpticsGroup", "_rlnOpticsGroupName"], rows: [["1", "g one"], ["2", "g2"]])
        let kv = STARBlock(name: "general", pairs: [("rlnFinalResolution", "3.2"), ("_rlnMaskName", "mask.mrc")])
        let doc = STARDocument(blocks: [kv, loop])
        let text = doc.serialized()
        let again = try STARDocument(text: text)
        #expect(again.blocks.map(\.name) == ["general", "optics"])
        #expect(again.block("general")?.value("rlnMaskName") == "mask.mrc")
        #expect(again.block("optics")?.labels == ["rlnOpticsGroup", "rlnOpticsGroupName"])
        #expect(try again.block("optics")?.strings("rlnOpticsGroupName") == ["g one", "g2"])
        #expect(again.serialized() == text)
    }

    @Test func selectingRemovingAndConcatenating() throws {
        let doc = try STARDocument(text: dataset1)
        let p = try #require(doc.block("particles"))
        let second = p.selectingRows([1])
        #expect(second.rowCount == 1)
        #expect(second.string(row: 0, "rlnImageName") == "000002@Extract/job007/a.mrcs")
        let both = STARBlock.concatenating([p, second], name: "particles", labels: ["rlnImageName", "rlnDefocusU", "rlnExtra"],
                                           fill: ["rlnExtra": "7"])
        #expect(both.rowCount == 3)
        #expect(try both.doubles("rlnDefocusU") == [1.4e-05, -2, -2])
        #expect(try both.ints("rlnExtra") == [7, 7, 7])
        both.replaceValues(in: "rlnDefocusU", mapping: ["-2.00000": "5"])
        #expect(try both.doubles("rlnDefocusU") == [1.4e-05, 5, 5])
        both.removeColumn("rlnExtra")
        #expect(both.labels == ["rlnImageName", "rlnDefocusU"])
        let text = STARDocument(blocks: [both]).serialized()
        let again = try STARDocument(text: text)
        #expect(try again.block("particles")?.strings("rlnDefocusU") == ["1.4e-05", "5", "5"])
    }

    @Test func writeIsAtomicAndRefusesToOverwrite() throws {
        let dir = TemporaryDirectory()
        let input = dir.write("in.star", dataset1)
        let doc = try STARDocument(path: input)
        let out = dir.file("out.star")
        try doc.write(to: out, policy: OutputPolicy(inputs: [input]))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == dataset1)
        #expect(throws: CoreError.outputExists(path: out)) { try doc.write(to: out, policy: OutputPolicy(inputs: [input])) }
        #expect(throws: CoreError.outputIsInput(path: input)) { try doc.write(to: input, policy: OutputPolicy(overwrite: true, inputs: [input])) }
        #expect(dir.listing() == ["in.star", "out.star"])
    }

    @Test func largeLoopIsTokenizedInParallelChunksCorrectly() throws {
        // More than the 1 MB sequential first piece, so the rest is split over the cores.
        var text = "data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnImagePixelSize #2\n_rlnVoltage #3\n_rlnSphericalAberration #4\n_rlnAmplitudeContrast #5\n1 1.0 300 2.7 0.1\n\ndata_particles\nloop_\n_rlnCoordinateX #1\n_rlnImageName #2\n_rlnOpticsGroup #3\n"
        let n = 60000
        for i in 0..<n { text += String(format: "%12.6f %06d@Extract/x.mrcs %12d\n", Double(i) * 0.5, i + 1, 1) }
        text += "\ndata_after\n_rlnX 1\n"
        let doc = try STARDocument(text: text)
        let p = try #require(doc.block("particles"))
        #expect(p.rowCount == n)
        let x = try p.doubles("rlnCoordinateX")
        #expect(x == (0..<n).map { Double($0) * 0.5 })
        #expect(try p.strings("rlnImageName")[n - 1] == String(format: "%06d@Extract/x.mrcs", n))
        #expect(doc.block("after")?.value("rlnX") == "1")
        #expect(doc.serialized() == text)
        // A modified copy re-tokenizes to the same values.
        p.setColumn("rlnOpticsGroup", constant: "2")
        let again = try STARDocument(text: doc.serialized())
        #expect(try again.block("particles")?.doubles("rlnCoordinateX") == x)
        #expect(try again.block("particles")?.ints("rlnOpticsGroup") == [Int](repeating: 2, count: n))
    }
}

@Suite struct ModelTests {
    @Test func opticsTableOfDataset1() throws {
        let doc = try STARDocument(text: dataset1)
        let optics = try OpticsTable(block: doc.block("optics")!, file: "d1.star")
        #expect(optics.groups.count == 1)
        let g = try #require(optics.group(1))
        #expect(g.name == "dataset1")
        #expect(g.imagePixelSize == 1.0)
        #expect(g.imageSize == 140)
        #expect(g.imageDimensionality == 2)
        #expect(g.voltage == 300)
        #expect(g.sphericalAberration == 2.7)
        #expect(g.amplitudeContrast == 0.1)
        #expect(g.micrographOriginalPixelSize == 1.0)
        #expect(g.magMatrix == nil)
        #expect(g.evenZernike.isEmpty)
        #expect(optics.group(2) == nil)
    }

    @Test func opticsZernikeAndMagnificationMatrix() throws {
        let text = """
        data_optics
        loop_
        _rlnOpticsGroup #1
        _rlnImagePixelSize #2
        _rlnVoltage #3
        _rlnSphericalAberration #4
        _rlnAmplitudeContrast #5
        _rlnEvenZernike #6
        _rlnMagMat00 #7
        _rlnMagMat01 #8
        _rlnMagMat10 #9
        _rlnMagMat11 #10
        _rlnMtfFileName #11
        3 0.54 300 2.7 0.1 [0.1,-0.2,0,0,0,0,0.0123] 0.99 0 0 1.045 mtf_k3.star
        """
        let optics = try OpticsTable(block: try STARDocument(text: text).block("optics")!, file: "o.star")
        let g = try #require(optics.group(3))
        #expect(g.name == "opticsGroup3")
        #expect(g.evenZernike == [0.1, -0.2, 0, 0, 0, 0, 0.0123])
        #expect(g.evenZernike[6] == 0.0123)
        #expect(g.magMatrix == MagnificationMatrix(m00: 0.99, m01: 0, m10: 0, m11: 1.045))
        #expect(g.mtfFileName == "mtf_k3.star")
        #expect(g.imageSize == 0)
    }

    @Test func imageNames() {
        let name = ImageName("000012@Extract/job007/x.mrcs")
        #expect(name?.index == 12)
        #expect(name?.stackPath == "Extract/job007/x.mrcs")
        #expect(name?.text == "000012@Extract/job007/x.mrcs")
        #expect(ImageName("7@a.mrcs")?.text == "000007@a.mrcs")
        #expect(ImageName("a.mrc") == nil)
        #expect(ImageName("x@a.mrcs") == nil)
        #expect(ImageName("0@a.mrcs") == nil)
    }

    @Test func particleFileChecksOpticsReferences() throws {
        let file = try RelionParticleFile(document: try STARDocument(text: dataset1, name: "d1.star"))
        #expect(file.particles.name == "particles")
        #expect(try file.opticsGroupIndices() == [0, 0])
    }
}
