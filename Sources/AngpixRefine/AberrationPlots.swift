// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The plots of `refine aberrations` for the report: per optics group, the per-pixel phase errors
// the fits used (even: δ = atan2(v, u); odd: arg Σ conj(t f) y) beside the fitted Zernike surfaces,
// on the full frequency plane (the half-complex grid mirrored: even phases are symmetric, odd ones
// antisymmetric), downsampled to at most 64 × 64 cells so the SVG stays small. Pixels without
// weight are grey.

import Foundation
import AngpixReport

/// What one group's plot shows (half-complex layout of its grid).
public struct AberrationPlotData: Sendable, Equatable {
    public var evenMeasured: PhaseImage?
    public var evenFitted: [Double]?
    public var oddMeasured: PhaseImage?
    public var oddFitted: [Double]?

    public init() {}
}

/// SVG plots of an aberration refinement.
public enum AberrationPlots {
    /// The four panels (measured and fitted, even and odd) of one group; missing fits are left out.
    /// Each pair shares one colour scale: the largest |phase| of the fitted surface (at most π).
    public static func phases(_ data: AberrationPlotData, title: String, cells: Int = 64) -> String {
        var panels: [SpectrumHeatMapPanel] = []
        for (kind, measured, fitted, odd) in [("even", data.evenMeasured, data.evenFitted, false),
                                              ("odd", data.oddMeasured, data.oddFitted, true)] {
            guard let m = measured, let f = fitted else { continue }
            let shown = m.weight.map { $0 > 0 }
            let range = SpectrumHeatMap.range(f, shown: shown, floor: 1e-3, ceiling: Double.pi)
            panels.append(SpectrumHeatMapPanel(label: "\(kind): per-pixel phase error", grid: m.grid, values: m.phase,
                                               shown: shown, antisymmetric: odd, range: range))
            panels.append(SpectrumHeatMapPanel(label: "\(kind): fitted Zernike surface", grid: m.grid, values: f,
                                               shown: shown, antisymmetric: odd, range: range))
        }
        return SpectrumHeatMap.svg(heading: "\(title): phase (rad), blue −, red +, grey no weight", panels: panels, cells: cells)
    }
}
