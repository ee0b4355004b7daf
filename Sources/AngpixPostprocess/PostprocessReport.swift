// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The JSON summary of a post-processing run, as `angpix postprocess --json` prints it.

/// The JSON summary of a post-processing run (`angpix postprocess --json`): the numbers, the FSC
/// curves shell by shell, the warnings and the files written.
public struct PostprocessReport: Encodable {
    public var pixelSize: Double
    public var boxSize: Int
    public var finalResolution: Double
    public var finalResolutionShell: Int
    public var nyquistLimited: Bool
    public var bFactor: Double
    public var guinierFit: GuinierFit?
    public var randomiseFrom: Double?
    public var randomiseFromShell: Int?
    public var lowPassFilter: Double?
    public var solventMaskFraction: Double?
    public var fsc: [FSCRow]
    public var warnings: [String]
    public var files: PostprocessFiles
    public var plots: [String]

    /// One shell of the FSC curves (resolution in Å).
    public struct FSCRow: Encodable {
        public var shell: Int
        public var resolution: Double
        public var corrected: Double
        public var unmasked: Double
        public var masked: Double?
        public var phaseRandomizedMasked: Double?
    }

    /// The summary of `r`, which wrote `files` and `plots`.
    public init(_ r: PostprocessResult, files: PostprocessFiles, plots: [String]) {
        pixelSize = r.pixelSize
        boxSize = r.size
        finalResolution = r.finalResolutionShell > 0 ? r.finalResolution : 999
        finalResolutionShell = r.finalResolutionShell
        nyquistLimited = r.reachesNyquist
        bFactor = r.bFactor
        guinierFit = r.fit
        randomiseFromShell = r.randomiseFromShell
        randomiseFrom = r.randomiseFromShell.map { r.resolution(shell: $0) }
        lowPassFilter = r.lowPassFilter
        solventMaskFraction = r.solventMaskFraction
        fsc = r.fscCorrected.indices.map { i in
            FSCRow(shell: i, resolution: r.resolution(shell: i), corrected: r.fscCorrected[i], unmasked: r.fscUnmasked[i],
                   masked: r.fscMasked?[i], phaseRandomizedMasked: r.fscRandomMasked?[i])
        }
        warnings = r.warnings
        self.files = files
        self.plots = plots
    }
}
