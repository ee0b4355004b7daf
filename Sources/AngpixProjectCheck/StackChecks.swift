// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Checks of the particle stacks a STAR file names (`N@stack.mrcs`, RELION's image-name
// convention): each stack's MRC header pixel size against its optics group's rlnImagePixelSize,
// its box against rlnImageSize, the image indices against the number of images, and stacks that
// are missing. Only the 1024-byte headers are read (MRCFile.readHeader), so thousands of stacks
// take a moment.

import Foundation
import AngpixSTAR
import AngpixMRC

enum StackChecks {
    struct Result {
        var findings: [Finding]
        var checkedLine: String
    }

    /// What one stack is used for: the optics groups of its particles and the largest index.
    struct Use {
        var groups = Set<Int>()
        var maxIndex = 0
        var particles = 0
    }

    static func findings(_ s: ParticleFileSummary, paths: PathResolver) throws -> Result {
        guard s.particles.has("rlnImageName") else {
            return Result(findings: [], checkedLine: "\(s.file): no rlnImageName column, no stacks to open")
        }
        let names = try s.particles.strings("rlnImageName")
        var uses: [String: Use] = [:]
        var order: [String] = []
        for (r, text) in names.enumerated() {
            let name = ImageName(text) ?? ImageName(index: 1, stackPath: text)  // a single image file
            if uses[name.stackPath] == nil { order.append(name.stackPath) }
            var u = uses[name.stackPath, default: Use()]
            if s.particleGroup[r] >= 0 { u.groups.insert(s.particleGroup[r]) }
            u.maxIndex = max(u.maxIndex, name.index)
            u.particles += 1
            uses[name.stackPath] = u
        }

        var missing: [String] = []
        var missingParticles = 0
        var unreadable: [String] = []
        // Per group index: stacks whose pixel size / box disagrees, with the values seen.
        var pixelMismatch: [Int: [(String, Double)]] = [:]
        var boxMismatch: [Int: [(String, Int, Int)]] = [:]
        var noPixelSize: [String] = []
        var shortStacks: [(String, Int, Int)] = []
        var opened = 0
        for stack in order {
            let use = uses[stack]!
            guard let path = paths.resolve(stack) else {
                missing.append(stack)
                missingParticles += use.particles
                continue
            }
            let header: MRCHeader
            do { header = try MRCFile.readHeader(path: path) } catch {
                unreadable.append("\(stack) (\(error))")
                continue
            }
            opened += 1
            if use.maxIndex > header.nz { shortStacks.append((stack, use.maxIndex, header.nz)) }
            if header.pixelSize <= 0 { noPixelSize.append(stack) }
            for gi in use.groups.sorted() {
                let g = s.groups[gi]
                if header.pixelSize > 0 && !samePixelSize(header.pixelSize, g.imagePixelSize) {
                    pixelMismatch[gi, default: []].append((stack, header.pixelSize))
                }
                if g.imageSize > 0 && (header.nx != g.imageSize || header.ny != g.imageSize) {
                    boxMismatch[gi, default: []].append((stack, header.nx, header.ny))
                }
            }
        }

        var out: [Finding] = []
        for gi in pixelMismatch.keys.sorted() {
            let g = s.groups[gi]
            let list = pixelMismatch[gi]!
            let seen = Array(Set(list.map { px($0.1) })).sorted()
            let total = uses.values.filter { $0.groups.contains(gi) }.count
            out.append(Finding(.stackPixelSize, .error, files: [s.file] + list.prefix(3).map(\.0),
                problem: "\(list.count) of \(total) stack\(total == 1 ? "" : "s") of optics group \(g.number) (\(g.name)) have header pixel size \(seen.joined(separator: ", ")) Å/px, the optics table says rlnImagePixelSize \(px(g.imagePixelSize)) (first: \(list[0].0))",
                why: "One of the two is wrong. If the STAR file was edited (\"Manually set pixel size\" was removed from RELION 3.1 for this reason), the CTF and origins no longer match the particles; if the stacks were rescaled outside RELION, the optics table was not updated and every resolution, CTF and scaling step uses the wrong size.",
                action: "Find out which pixel size the particles were extracted at; re-extract or rescale with `angpix particles` so that stacks and optics table agree. Do not edit rlnImagePixelSize to match a calibration: give the true pixel size to PostProcess.",
                values: ["opticsPixelSize": g.imagePixelSize, "stackPixelSize": list[0].1, "stacks": Double(list.count)]))
        }
        for gi in boxMismatch.keys.sorted() {
            let g = s.groups[gi]
            let list = boxMismatch[gi]!
            let seen = Array(Set(list.map { "\($0.1)×\($0.2)" })).sorted()
            out.append(Finding(.stackBox, .error, files: [s.file] + list.prefix(3).map(\.0),
                problem: "\(list.count) stack\(list.count == 1 ? "" : "s") of optics group \(g.number) (\(g.name)) hold \(seen.joined(separator: ", ")) images, the optics table says rlnImageSize \(g.imageSize) (first: \(list[0].0))",
                why: "RELION reads the images with the optics group's box: a different box reads wrong pixels or fails, and the Fourier-space pixel size (1 / (box × pixel size)) is wrong.",
                action: "Set rlnImageSize to the stacks' box if the stacks are right, or re-extract the particles at box \(g.imageSize).",
                values: ["opticsBox": Double(g.imageSize), "stackBox": Double(list[0].1)]))
        }
        if !noPixelSize.isEmpty {
            out.append(Finding(.stackPixelSize, .warning, files: [s.file] + noPixelSize.prefix(3),
                problem: "\(noPixelSize.count) stack\(noPixelSize.count == 1 ? "" : "s") have no pixel size in their header (\(listed(noPixelSize, max: 3)))",
                why: "RELION 3.1 takes the pixel size from the optics table, but other programs read the header.",
                action: "Set the header pixel size to the optics group's rlnImagePixelSize with `angpix map set-pixel-size`.",
                values: ["stacks": Double(noPixelSize.count)]))
        }
        if !shortStacks.isEmpty {
            let text = shortStacks.prefix(3).map { "\($0.0): image \($0.1) of \($0.2)" }
            out.append(Finding(.stackIndex, .error, files: [s.file] + shortStacks.prefix(3).map(\.0),
                problem: "\(shortStacks.count) stack\(shortStacks.count == 1 ? " is" : "s are") shorter than the image numbers the particles use (\(listed(text, max: 3)))",
                why: "RELION stops when it reads those particles; the stacks were truncated or replaced.",
                action: "Re-extract the particles or restore the stacks.",
                values: ["stacks": Double(shortStacks.count)]))
        }
        if !missing.isEmpty || !unreadable.isEmpty {
            var problem = ""
            if !missing.isEmpty {
                problem = "\(missing.count) of \(order.count) stacks not found (\(missingParticles) particles; \(listed(missing, max: 3))), looked for in \(paths.projectDirectory) and the folders above \(s.file)"
            }
            if !unreadable.isEmpty {
                problem += (problem.isEmpty ? "" : "; ") + "\(unreadable.count) stack\(unreadable.count == 1 ? "" : "s") unreadable: \(listed(unreadable, max: 2))"
            }
            out.append(Finding(.stackMissing, .error, files: [s.file] + (missing + unreadable).prefix(3),
                problem: problem,
                why: "These particles cannot be read, so their pixel size and box cannot be checked, and RELION stops on them.",
                action: "Run the check from the RELION project folder (or give --project), or fix the paths in rlnImageName.",
                values: ["missing": Double(missing.count), "unreadable": Double(unreadable.count)]))
        }
        let line = "\(s.file): opened \(opened) of \(order.count) particle stack\(order.count == 1 ? "" : "s")"
        return Result(findings: out, checkedLine: line)
    }
}
