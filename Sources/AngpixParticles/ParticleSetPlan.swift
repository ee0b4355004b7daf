// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The plan of a particle-set rescale: which stacks the STAR file references (rlnImageName is
// "N@path/to/stack.mrcs", N counted from 1, as in RELION's Conventions page), how each optics group
// is rescaled, where each new stack goes, and which shard processes it.
//
// Rules (documented in README.md, "Rescaling a particle set"):
// - Whole stacks are rescaled (every image, referenced or not) so that image N of a stack stays
//   image N: rlnImageName keeps its number and only its path changes.
// - A stack's output path is OUTDIR/<the stack path as written, with "." and empty components
//   dropped, a leading "/" dropped, and ".." replaced by "_parent_">.
// - Stacks are sorted by output path; with --shard I/N the k-th stack (from 0) belongs to shard k mod N + 1,
//   and a shard owns the particle rows that reference its stacks. The rule depends only on the STAR
//   file, so every shard process computes the same split.

/// One optics group, as much as the plan needs of it.
public struct PlanOpticsGroup: Sendable, Equatable {
    public var number: Int
    public var name: String
    public var pixelSize: Double
    public var imageSize: Int
    public var dimensionality: Int

    public init(number: Int, name: String, pixelSize: Double, imageSize: Int, dimensionality: Int = 2) {
        self.number = number
        self.name = name
        self.pixelSize = pixelSize
        self.imageSize = imageSize
        self.dimensionality = dimensionality
    }
}

/// What the user asked for: the target pixel size, an optional final box, the groups to rescale.
public struct RescaleSettings: Sendable, Codable, Equatable {
    /// The target pixel size (Å), `--angpix`.
    public var pixelSize: Double
    /// The final box (pixels) after the real-space window, `--box`.
    public var box: Int?
    /// The optics groups to rescale (numbers or names), `--group`; empty means all.
    public var groups: [String]

    public init(pixelSize: Double, box: Int? = nil, groups: [String] = []) {
        self.pixelSize = pixelSize
        self.box = box
        self.groups = groups
    }

    /// Throws if a value is out of range.
    public func validate() throws {
        guard pixelSize > 0, pixelSize.isFinite else {
            throw ParticlesError.invalidOption("--angpix \(pixelSize): the pixel size must be positive")
        }
        if let box {
            guard box >= 2, box % 2 == 0 else {
                throw ParticlesError.invalidOption("--box \(box): the box must be even and at least 2")
            }
        }
    }
}

/// A particle image reference `N@stack` split into its number text and its stack path.
public struct ParticleImageReference: Sendable, Equatable {
    /// The image number as written ("000012"), or nil for a plain file name (a single image).
    public var indexText: Substring?
    /// The image number, from 1.
    public var index: Int
    /// The stack path as written.
    public var path: Substring

    /// Parses "000012@Extract/job007/a.mrcs" (or a plain file name, which is image 1).
    public init?(_ text: String) {
        if let at = text.firstIndex(of: "@") {
            let number = text[text.startIndex..<at]
            let rest = text[text.index(after: at)...]
            guard let n = Int(number), n >= 1, !rest.isEmpty else { return nil }
            indexText = number
            index = n
            path = rest
        } else {
            guard !text.isEmpty else { return nil }
            indexText = nil
            index = 1
            path = Substring(text)
        }
    }
}

/// One stack of the plan.
public struct PlannedStack: Sendable, Equatable {
    /// The stack path as first written in the STAR file.
    public var path: String
    /// The output path relative to the output folder.
    public var outputPath: String
    /// How its images are rescaled, or nil when its optics group is not selected (kept as it is).
    public var rescale: GroupRescale?
    /// The highest image number referenced (from 1), and the first particle row (from 1) that references it.
    public var maxIndex: Int
    public var maxIndexRow: Int
    /// The first particle row (from 1) that references it, for error messages.
    public var firstRow: Int
    /// The number of particle rows that reference it.
    public var particleCount: Int
    /// The shard (from 1) that processes it.
    public var shard: Int
}

/// Which stacks map where, which groups change how, which shard does what.
public struct ParticleSetPlan: Sendable {
    /// The STAR file (for messages).
    public let file: String
    public let settings: RescaleSettings
    /// The number of shards the plan is split into (1 without --shard).
    public let shardCount: Int
    /// The rescale of every selected optics group, by group number.
    public let groups: [Int: GroupRescale]
    /// The referenced stacks, sorted by normalised path.
    public let stacks: [PlannedStack]
    /// For each particle row (from 0), the index of its stack in `stacks`.
    public let rowStack: [Int32]

    /// Plans the rescale of particles whose rlnImageName are `imageNames` and rlnOpticsGroup are
    /// `rowGroups` (nil when the table has no such column and there is a single optics group).
    public init(file: String, imageNames: [String], rowGroups: [Int]?, optics: [PlanOpticsGroup],
                settings: RescaleSettings, shardCount: Int = 1) throws {
        try settings.validate()
        guard shardCount >= 1 else { throw ParticlesError.invalidOption("the shard count must be at least 1") }
        self.file = file
        self.settings = settings
        self.shardCount = shardCount

        // Selected groups.
        var byNumber: [Int: PlanOpticsGroup] = [:]
        for g in optics { byNumber[g.number] = g }
        var selected: Set<Int> = []
        if settings.groups.isEmpty {
            selected = Set(optics.map(\.number))
        } else {
            for text in settings.groups {
                if let n = Int(text), byNumber[n] != nil {
                    selected.insert(n)
                } else if let g = optics.first(where: { $0.name == text }) {
                    selected.insert(g.number)
                } else {
                    throw ParticlesError.unknownGroup(file: file, group: text)
                }
            }
        }
        var groups: [Int: GroupRescale] = [:]
        for n in selected.sorted() {
            let g = byNumber[n]!
            guard g.dimensionality == 2 else {
                throw ParticlesError.badOpticsGroup(file: file, group: n,
                    reason: "rlnImageDimensionality is \(g.dimensionality); only 2D particle images can be rescaled")
            }
            guard g.pixelSize > 0, g.pixelSize.isFinite else {
                throw ParticlesError.badOpticsGroup(file: file, group: n, reason: "rlnImagePixelSize \(g.pixelSize) is not positive")
            }
            guard g.imageSize >= 2 else {
                throw ParticlesError.badOpticsGroup(file: file, group: n, reason: "rlnImageSize \(g.imageSize) is smaller than 2")
            }
            do {
                groups[n] = try GroupRescale(opticsGroup: n, oldPixelSize: g.pixelSize, oldBox: g.imageSize,
                                             target: settings.pixelSize, box: settings.box)
            } catch let error as ParticlesError {
                throw ParticlesError.badOpticsGroup(file: file, group: n, reason: "\(error)")
            }
        }
        self.groups = groups

        // Stacks in order of first appearance, then sorted.
        if let rowGroups, rowGroups.count != imageNames.count {
            throw ParticlesError.noParticles(file: file, reason: "rlnOpticsGroup and rlnImageName have different lengths")
        }
        if rowGroups == nil && optics.count != 1 {
            throw ParticlesError.noParticles(file: file,
                reason: "the particle table has no rlnOpticsGroup column and there are \(optics.count) optics groups")
        }
        let onlyGroup = optics.first?.number ?? 1
        var keyOf: [Substring: Int] = [:]      // stack path as written -> provisional id
        var normalised: [String: Int] = [:]    // normalised path -> provisional id
        var provisional: [PlannedStack] = []
        var stackGroup: [Int] = []
        var rowProvisional = [Int32](repeating: 0, count: imageNames.count)
        for (row, name) in imageNames.enumerated() {
            guard let ref = ParticleImageReference(name) else {
                throw ParticlesError.badRecord(file: file, row: row + 1, reason: "rlnImageName '\(name)' is not N@stack")
            }
            let group = rowGroups?[row] ?? onlyGroup
            guard byNumber[group] != nil else {
                throw ParticlesError.badRecord(file: file, row: row + 1,
                    reason: "rlnOpticsGroup \(group) is not in the optics table")
            }
            var id: Int
            if let known = keyOf[ref.path] {
                id = known
            } else {
                let norm = ParticleSetPlan.normalise(String(ref.path))
                if let known = normalised[norm] {
                    id = known
                } else {
                    id = provisional.count
                    normalised[norm] = id
                    provisional.append(PlannedStack(path: String(ref.path), outputPath: ParticleSetPlan.mirror(norm),
                                                    rescale: groups[group], maxIndex: 0, maxIndexRow: row + 1, firstRow: row + 1,
                                                    particleCount: 0, shard: 1))
                    stackGroup.append(group)
                }
                keyOf[ref.path] = id
            }
            if stackGroup[id] != group {
                let a = groups[stackGroup[id]], b = groups[group]
                let same = (a == nil && b == nil) || (a != nil && b != nil
                    && a!.oldBox == b!.oldBox && a!.oldPixelSize == b!.oldPixelSize)
                if !same {
                    throw ParticlesError.badRecord(file: file, row: row + 1,
                        reason: "stack \(ref.path) also holds particles of optics group \(stackGroup[id]) "
                            + "(row \(provisional[id].firstRow)), which is rescaled differently from group \(group)")
                }
            }
            if ref.index > provisional[id].maxIndex {
                provisional[id].maxIndex = ref.index
                provisional[id].maxIndexRow = row + 1
            }
            provisional[id].particleCount += 1
            rowProvisional[row] = Int32(id)
        }

        // Sort by normalised path; assign shards round-robin; check output collisions.
        let order = provisional.indices.sorted { provisional[$0].outputPath < provisional[$1].outputPath
            || (provisional[$0].outputPath == provisional[$1].outputPath && provisional[$0].path < provisional[$1].path) }
        var newIndex = [Int32](repeating: 0, count: provisional.count)
        var stacks: [PlannedStack] = []
        stacks.reserveCapacity(provisional.count)
        for (k, old) in order.enumerated() {
            var s = provisional[old]
            s.shard = k % shardCount + 1
            if let last = stacks.last, last.outputPath == s.outputPath {
                throw ParticlesError.outputCollision(first: last.path, second: s.path, output: s.outputPath)
            }
            newIndex[old] = Int32(k)
            stacks.append(s)
        }
        self.stacks = stacks
        rowStack = rowProvisional.map { newIndex[Int($0)] }
    }

    /// The path with "." and empty components dropped ("/" kept in front of an absolute path).
    static func normalise(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// The output path under the output folder for a normalised stack path.
    static func mirror(_ normalised: String) -> String {
        normalised.split(separator: "/").map { $0 == ".." ? "_parent_" : String($0) }.joined(separator: "/")
    }

    /// The stacks a shard (from 1) processes.
    public func stacks(inShard shard: Int) -> [Int] {
        stacks.indices.filter { shardCount == 1 || stacks[$0].shard == shard }
    }

    /// The particle rows (from 0) a shard owns, in file order.
    public func rows(inShard shard: Int) -> [Int] {
        if shardCount == 1 { return Array(rowStack.indices) }
        return rowStack.indices.filter { stacks[Int(rowStack[$0])].shard == shard }
    }

    /// The new rlnImageName of a particle: the same image number in the new stack, whose path is
    /// `outputPrefix` (the output folder as the user gave it) joined with the stack's output path.
    /// Particles of groups that are not rescaled keep their name.
    public func newImageName(_ name: String, row: Int, outputPrefix: String) -> String {
        let stack = stacks[Int(rowStack[row])]
        guard stack.rescale != nil, let ref = ParticleImageReference(name) else { return name }
        let path = ParticleSetPlan.join(outputPrefix, stack.outputPath)
        if let indexText = ref.indexText { return "\(indexText)@\(path)" }
        return path
    }

    /// `folder/relative`, without doubling a trailing "/".
    static func join(_ folder: String, _ relative: String) -> String {
        if folder.isEmpty || folder == "." { return relative }
        return folder.hasSuffix("/") ? folder + relative : folder + "/" + relative
    }
}
