// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix cs info` and `angpix star from-cs` (the built binary): text and
// JSON output, the converted file read by `star info` and `calibrate zernike`, and bad inputs
// failing with one line naming the file and leaving nothing behind.

import Foundation
import Testing
import AngpixCore
import AngpixTestSupport
@testable import AngpixCryoSPARC

@Suite struct CryoSPARCCLITests {
    func project(_ dir: TemporaryDirectory, _ ps: [TruthParticle]) -> (main: String, passthrough: String) {
        let (m, p) = Synthetic.split(ps)
        for s in Set(ps.map(\.stack)) { dir.write("project/" + s, "") }
        return (m.write(to: dir.file("J42_005_particles.cs")), p.write(to: dir.file("J42_passthrough_particles.cs")))
    }

    @Test func csInfoListsFieldsOpticsAndWarnings() throws {
        let dir = TemporaryDirectory("cs-cli")
        var ps = Synthetic.particles(30, groups: 2, alignPixelSize: 2.12)
        for i in 0..<ps.count where ps[i].expGroup == 2 { ps[i].anisomag = [0.01, 0, 0, -0.01]; ps[i].tiltA = [2700, 0] }
        let (m, p) = project(dir, ps)
        try FileManager.default.removeItem(atPath: dir.file("project/" + ps[0].stack))
        let r = try runAngpix(["cs", "info", m, p, "--project-dir", dir.file("project")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("alignments3D/pose") && r.stdout.contains("<f4 (3)"))
        #expect(r.stdout.contains("particles: 30"))
        #expect(r.stdout.contains("image pixel size (blob/psize_A): 1.06 Å (30)"))
        #expect(r.stdout.contains("pixel size (alignments3D/psize_A): 2.12 Å (30)"))
        #expect(r.stdout.contains("warning: 30 of 30 particles were aligned at another pixel size"))
        #expect(r.stdout.contains("anisotropic magnification"))
        #expect(r.stdout.contains("beam tilt tilt_A = [2700.0, 0.0] Å (0.1000, 0.0000 mrad at Cs 2.7 mm)"))
        #expect(r.stdout.contains("1 of 5 stacks do not exist under"))
        let j = try runAngpix(["cs", "info", m, p, "--json"])
        #expect(j.status == 0)
        let info = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        #expect(info?["particles"] as? Int == 30)
        #expect((info?["opticsGroups"] as? [Any])?.count == 2)
    }

    @Test func fromCsWritesARelionFileThatAngpixReads() throws {
        let dir = TemporaryDirectory("cs-cli")
        var ps = Synthetic.particles(21, groups: 3)
        for i in 0..<ps.count { ps[i].cs = 2.62 }
        let (m, p) = project(dir, ps)
        let out = dir.file("particles.star")
        let r = try runAngpix(["star", "from-cs", m, "--passthrough", p, "-o", out, "--project-dir", dir.file("project"),
                               "--mrcs", "--cs-nominal", "2.7"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("21 particles, 3 optics groups, angles and origins from alignments3D"))
        #expect(r.stdout.contains("conventions:"))
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("# version 30001"))
        #expect(text.contains("000001@\(dir.file("project"))/J30/extract/mic0_particles.mrcs"))
        let info = try runAngpix(["star", "info", out])
        #expect(info.status == 0 && info.stdout.contains("exp_group_2"), "\(info.stderr)")
        let cal = try runAngpix(["calibrate", "zernike", out, "--cs-true", "2.7", "--json"])
        #expect(cal.status == 0, "\(cal.stderr)")
        #expect(cal.stdout.contains("truePixelSize"))
        let expected = 1.06 * pow(2.7 / 2.62, 0.25)
        #expect(cal.stdout.contains(String(format: "%.6f", expected).prefix(7)))
        // Never over an input, never over an existing file without --force.
        let again = try runAngpix(["star", "from-cs", m, "--passthrough", p, "-o", out])
        #expect(again.status != 0 && again.stderr.contains("already exists"))
        let over = try runAngpix(["star", "from-cs", m, "--passthrough", p, "-o", p, "--force"])
        #expect(over.status != 0 && over.stderr.contains("would overwrite an input"))
    }

    @Test func badInputsFailWithOneLineAndNoOutput() throws {
        let dir = TemporaryDirectory("cs-cli")
        let ps = Synthetic.particles(10)
        let full = Synthetic.full(ps).data()
        let truncated = dir.file("truncated.cs")
        try full.prefix(full.count - 100).write(to: URL(fileURLWithPath: truncated))
        let objects = dir.file("objects.cs")
        try Synthetic.full(ps).data(headerText: "{'descr': [('uid', '<u8'), ('blob/path', '|O')], 'fortran_order': False, 'shape': (10,), }")
            .write(to: URL(fileURLWithPath: objects))
        let (m, p) = Synthetic.split(Synthetic.particles(10, seed: 99))
        let otherMain = m.write(to: dir.file("other_main.cs"))
        let pass = Synthetic.split(ps).passthrough.write(to: dir.file("pass.cs"))
        _ = p
        let before = dir.listing()
        for (args, expected) in [([truncated], "\(truncated): not a NumPy .npy/.cs file: truncated"),
                                 ([objects], "\(objects): field 'blob/path': Python object field"),
                                 ([otherMain, "--passthrough", pass], "\(pass): passthrough file: 10 of the 10 particles"),
                                 ([dir.file("missing.cs")], "no such file")] {
            let out = dir.file("out.star")
            let r = try runAngpix(["star", "from-cs"] + args + ["-o", out])
            #expect(r.status != 0)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("Error: ") && lines[0].contains(expected), "\(r.stderr)")
            #expect(dir.listing() == before, "left behind: \(dir.listing())")
        }
        let info = try runAngpix(["cs", "info", truncated])
        #expect(info.status != 0 && info.stderr.contains("truncated"))
    }

    /// --mrcs-links: a .mrcs link per stack below DIR, named in the STAR file; an existing link to
    /// another file is refused and a failed conversion leaves neither links nor output.
    @Test func fromCsMakesMrcsLinks() throws {
        let dir = TemporaryDirectory("cs-cli")
        let ps = Synthetic.particles(14)
        let (m, p) = project(dir, ps)
        let out = dir.file("particles.star"), links = dir.file("Stacks")
        let r = try runAngpix(["star", "from-cs", m, "--passthrough", p, "-o", out, "--project-dir", dir.file("project"),
                               "--mrcs-links", links, "--class", "1", "--flip-y"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\(links): 2 stack links named .mrcs (2 new)"))
        #expect(r.stdout.contains("particles.star: 5 particles of 14"))
        #expect(!r.stderr.contains("named .mrc;"))
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: links + "/J30/extract/mic0_particles.mrcs")
        #expect(target == dir.file("project") + "/J30/extract/mic0_particles.mrc")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("000001@\(links)/J30/extract/mic0_particles.mrcs \(dir.file("project"))/J14/motioncorrected/mic0.mrc"))
        // Again: the links are there already and kept.
        let again = try runAngpix(["star", "from-cs", m, "--passthrough", p, "-o", out, "--project-dir", dir.file("project"),
                                   "--mrcs-links", links, "--force"])
        #expect(again.status == 0 && again.stdout.contains("2 stack links named .mrcs (0 new)"), "\(again.stderr)")
        // A link to another file: refused; nothing new is left behind.
        let other = dir.file("other")
        try FileManager.default.removeItem(atPath: links)
        try FileManager.default.createDirectory(atPath: links + "/J30/extract", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: links + "/J30/extract/mic1_particles.mrcs", withDestinationPath: "/elsewhere.mrc")
        let before = dir.listing()
        let refused = try runAngpix(["star", "from-cs", m, "--passthrough", p, "-o", other, "--project-dir", dir.file("project"), "--mrcs-links", links])
        #expect(refused.status != 0 && refused.stderr.contains("mic1_particles.mrcs: cannot write: already exists and links to /elsewhere.mrc"), "\(refused.stderr)")
        #expect(dir.listing() == before, "left behind")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: links + "/J30/extract/mic0_particles.mrcs")) == nil)
        // A conversion that fails after the links were planned (a class that needs a missing field) makes none.
        try FileManager.default.removeItem(atPath: links)
        let noClass = try runAngpix(["star", "from-cs", p, "-o", other, "--mrcs-links", links, "--class", "1"])
        #expect(noClass.status != 0 && noClass.stderr.contains("the particles cannot be selected by class"), "\(noClass.stderr)")
        #expect(!FileManager.default.fileExists(atPath: links) && !FileManager.default.fileExists(atPath: other))
    }
}
