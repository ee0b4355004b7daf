// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Symbolic links named `.mrcs` to cryoSPARC's particle stacks. cryoSPARC names its stacks `.mrc`;
// RELION takes `.mrc` for a single image or map and `.mrcs` for a stack of images (RELION's
// "Conventions" page), so `N@stack.mrc` is not read as image N of a stack. Instead of renaming
// files inside the cryoSPARC project (inputs are never written), the links are made in a folder of
// the user's choice, mirroring blob/path: `folder/J30/extract/x_particles.mrcs → <project>/J30/extract/x_particles.mrc`.
// The STAR file then names the links (CryoSPARCToRelionOptions.linkFolder).

import Foundation
import AngpixCore

/// The links made for one conversion, so that they can be removed again if the conversion fails.
public struct CryoSPARCStackLinks: Sendable {
    /// Links created by this run (links that already pointed to the right stack are not listed).
    public private(set) var created: [String] = []
    /// Folders created by this run, deepest last.
    public private(set) var createdFolders: [String] = []
    /// Distinct stacks linked (created or already present).
    public private(set) var stacks: Int = 0

    /// Makes `folder/<blob/path with .mrcs>` → `<stackPrefix><blob/path>` for every distinct stack
    /// of `rows` (all records if nil). The target is made absolute (relative to the current folder).
    /// An existing file or link with another target is an error naming it; with `replace`, an
    /// existing link (never a regular file) is replaced.
    public static func make(_ set: CryoSPARCParticles, stackPrefix: String, folder: String, replace: Bool = false) throws -> CryoSPARCStackLinks {
        guard let blob = try set.text("blob/path") else {
            throw CryoSPARCError.badField(file: set.main.path, field: "blob/path", reason: "missing: there are no stacks to link")
        }
        var links = CryoSPARCStackLinks()
        var seen = Set<[UInt8]>()
        var last: [UInt8] = []
        let fm = FileManager.default
        let cwd = fm.currentDirectoryPath
        do {
            for i in 0..<set.count {
                if blob.sameText(asRow: i, previous: &last) && i > 0 { continue }
                guard seen.insert(last).inserted else { continue }
                var rel = String(decoding: last, as: UTF8.self)
                if rel.hasPrefix(">") { rel.removeFirst() }
                guard !rel.isEmpty, !rel.split(separator: "/").contains("..") else {
                    throw CryoSPARCError.badRecord(file: blob.fileName, row: blob.row(i), reason: "blob/path '\(rel)' cannot be mirrored below \(folder)")
                }
                var target = stackPrefix + rel
                if !target.hasPrefix("/") { target = (cwd as NSString).appendingPathComponent(target) }
                let name = rel.hasSuffix(".mrc") ? rel + "s" : rel
                let relative = name.hasPrefix("/") ? String(name.drop { $0 == "/" }) : name
                let link = (folder as NSString).appendingPathComponent(relative)
                try links.makeFolders((link as NSString).deletingLastPathComponent)
                if let existing = try? fm.destinationOfSymbolicLink(atPath: link) {
                    if existing == target { links.stacks += 1; continue }
                    guard replace else {
                        throw CoreError.cannotWrite(path: link, reason: "already exists and links to \(existing), not \(target) (use --force to replace links)")
                    }
                    try fm.removeItem(atPath: link)
                } else if fm.fileExists(atPath: link) {
                    throw CoreError.cannotWrite(path: link, reason: "already exists and is not a symbolic link; it is never replaced")
                }
                do { try fm.createSymbolicLink(atPath: link, withDestinationPath: target) } catch {
                    throw CoreError.cannotWrite(path: link, reason: "cannot make a symbolic link to \(target): \(error.localizedDescription)")
                }
                links.created.append(link)
                links.stacks += 1
            }
        } catch {
            links.remove()
            throw error
        }
        return links
    }

    private mutating func makeFolders(_ path: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw CoreError.cannotWrite(path: path, reason: "is not a folder")
        }
        try makeFolders((path as NSString).deletingLastPathComponent)
        do { try fm.createDirectory(atPath: path, withIntermediateDirectories: false) } catch {
            throw CoreError.cannotWrite(path: path, reason: "cannot create the folder: \(error.localizedDescription)")
        }
        createdFolders.append(path)
    }

    /// Removes the links and folders this run created (after a failed conversion).
    public func remove() {
        let fm = FileManager.default
        for l in created { try? fm.removeItem(atPath: l) }
        for f in createdFolders.reversed() { try? fm.removeItem(atPath: f) }
    }
}
