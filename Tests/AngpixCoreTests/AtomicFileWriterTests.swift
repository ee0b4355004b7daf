// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
import Testing
import Foundation
@testable import AngpixCore
import AngpixTestSupport

@Suite struct AtomicFileWriterTests {
    @Test func committedFileAppearsWhole() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("out.txt")
        let w = try AtomicFileWriter(destination: out, bufferSize: 8)
        try w.write("hello ")
        try w.write("world, longer than the buffer")
        #expect(!FileManager.default.fileExists(atPath: out))
        try w.commit()
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "hello world, longer than the buffer")
        #expect(dir.listing() == ["out.txt"])
    }

    @Test func durableWriterSyncsAndCommitsTheSameBytes() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("durable.txt")
        let policy = OutputPolicy(durable: true)
        #expect(policy.durable)
        let w = try AtomicFileWriter(destination: out, policy: policy, bufferSize: 8)
        try w.write("synced before the rename")
        try w.commit()
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "synced before the rename")
        #expect(dir.listing() == ["durable.txt"])
        // The default follows ANGPIX_SYNC (unset in the test environment unless a user sets it).
        #expect(OutputPolicy().durable == (ProcessInfo.processInfo.environment["ANGPIX_SYNC"] == "1"))
    }

    @Test func abandonedWriterLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("out.txt")
        do {
            let w = try AtomicFileWriter(destination: out)
            try w.write("partial")
        }
        #expect(dir.listing().isEmpty)
    }

    @Test func existingOutputIsNotOverwrittenWithoutForce() throws {
        let dir = TemporaryDirectory()
        let out = dir.write("out.txt", "old")
        #expect(throws: CoreError.outputExists(path: out)) {
            try writeFileAtomically("new", to: out)
        }
        try writeFileAtomically("new", to: out, policy: OutputPolicy(overwrite: true))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "new")
    }

    @Test func inputIsNeverOverwrittenEvenWithForce() throws {
        let dir = TemporaryDirectory()
        let input = dir.write("in.star", "data_\n")
        #expect(throws: CoreError.outputIsInput(path: input)) {
            try writeFileAtomically("x", to: input, policy: OutputPolicy(overwrite: true, inputs: [input]))
        }
        #expect(try String(contentsOfFile: input, encoding: .utf8) == "data_\n")
    }

    @Test func missingFolderIsAClearError() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("no/such/folder/out.txt")
        let e = #expect(throws: CoreError.self) { try writeFileAtomically("x", to: out) }
        #expect(e?.description.hasPrefix(out + ": ") == true, "\(String(describing: e))")
    }

    @Test func mappedFileReportsMissingFile() throws {
        #expect(throws: CoreError.fileNotFound(path: "/no/such/file.star")) {
            _ = try MappedFile(path: "/no/such/file.star")
        }
    }

    @Test func splitRangeCoversEverythingOnce() {
        let parts = splitRange(10, into: 3)
        #expect(parts == [0..<3, 3..<6, 6..<10])
        #expect(splitRange(2, into: 8).count == 2)
    }
}
