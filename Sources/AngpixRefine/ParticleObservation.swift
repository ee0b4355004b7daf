// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// What the optics refinements (magnification, aberrations, defocus) see of one particle, in RELION
// 3.1's conventions (src/jaz/single_particle: obs_model, mag_estimator, aberration_estimator,
// defocus_refinement):
//
//   - the box is square, s × s pixels, at the group's nominal pixel size p (rlnImagePixelSize);
//   - spectra are half-complex, s rows of s/2 + 1 values, row-major; value (i, j) is at the
//     frequency k = (i, fourierFrequency(j, s)) / (s · p) in 1/Å (the Fourier module's layout);
//   - `observed` is the forward FFT of the particle image; `predicted` is the reference's
//     projection evaluated at the frequencies the CTF sees (M · k, M = the group's current
//     rlnMagMat), rotated by the particle's pose and shifted by its origin, WITHOUT the CTF;
//     both carry the same normalisation (forward transform divided by s²), so y ≈ CTF · predicted;
//   - `gradientX`/`gradientY` (optional, the magnification fit needs them) are ∂predicted/∂kx
//     and ∂predicted/∂ky with k in 1/Å of the observed grid;
//   - `ctf` holds the particle's defocus and its optics group's optics, including the current
//     magnification matrix and Zernike coefficients, so CTF(ctf).value(x:y:) at k is its CTF.

import AngpixFourier
import AngpixOptics

/// One particle's observed spectrum and its reference prediction, as the optics refinements use them.
public struct ParticleObservation: Sendable {
    /// The box size s in pixels (square images).
    public var boxSize: Int
    /// The nominal pixel size of the particle's optics group in Å (rlnImagePixelSize).
    public var pixelSize: Double
    /// The optics group number (rlnOpticsGroup, from 1).
    public var opticsGroup: Int
    /// The half set the particle belongs to (rlnRandomSubset, 1 or 2); its prediction comes from the other half map.
    public var randomSubset: Int
    /// The micrograph the particle was picked from (rlnMicrographName), for per-micrograph fits.
    public var micrographName: String
    /// The particle's row in the particle table (0-based), to write results back.
    public var row: Int
    /// The particle's CTF parameters (its defocus, its group's optics, current magMatrix and Zernike terms).
    public var ctf: CTFParameters
    /// The forward FFT of the image, s × (s/2 + 1), divided by s².
    public var observed: [Complex32]
    /// The reference's prediction at M·k, posed and shifted, without CTF; same layout and normalisation.
    public var predicted: [Complex32]
    /// ∂predicted/∂kx (k in 1/Å), when the magnification fit asked for it.
    public var gradientX: [Complex32]?
    /// ∂predicted/∂ky (k in 1/Å), when the magnification fit asked for it.
    public var gradientY: [Complex32]?
    /// The prediction with the particle's CTF applied on a field twice the box and then boxed, as
    /// extraction applies it (`BoxedCTF`): Box(−env sin γ e^{iφ_odd} f) and Box(−env cos γ e^{iφ_odd} f).
    /// nil: the fits apply the CTF on the box's grid.
    public var ctfSine: [Complex32]?
    public var ctfCosine: [Complex32]?

    public init(boxSize: Int, pixelSize: Double, opticsGroup: Int, randomSubset: Int, micrographName: String,
                row: Int, ctf: CTFParameters, observed: [Complex32], predicted: [Complex32],
                gradientX: [Complex32]? = nil, gradientY: [Complex32]? = nil,
                ctfSine: [Complex32]? = nil, ctfCosine: [Complex32]? = nil) {
        self.boxSize = boxSize
        self.pixelSize = pixelSize
        self.opticsGroup = opticsGroup
        self.randomSubset = randomSubset
        self.micrographName = micrographName
        self.row = row
        self.ctf = ctf
        self.observed = observed
        self.predicted = predicted
        self.gradientX = gradientX
        self.gradientY = gradientY
        self.ctfSine = ctfSine
        self.ctfCosine = ctfCosine
    }

    /// The number of values in one half-complex spectrum of this box: s · (s/2 + 1).
    public var spectrumCount: Int { boxSize * (boxSize / 2 + 1) }

    /// The frequency (1/Å) of half-complex value `index` on the observed grid.
    @inlinable public func frequency(ofIndex index: Int) -> (x: Double, y: Double) {
        let hx = boxSize / 2 + 1
        let j = index / hx, i = index - j * hx
        let extent = Double(boxSize) * pixelSize
        return (Double(i) / extent, Double(fourierFrequency(j, boxSize)) / extent)
    }
}

/// Per-pixel weights of one optics group's spectra (same layout as `ParticleObservation`): zero
/// below 1/kmin and where the corrected FSC falls under 0.143, the FSC elsewhere (RELION 3.1's
/// CtfRefine weighting).
public struct FrequencyWeights: Sendable {
    /// The box size s the weights belong to.
    public var boxSize: Int
    /// s × (s/2 + 1) weights.
    public var values: [Float]

    public init(boxSize: Int, values: [Float]) {
        self.boxSize = boxSize
        self.values = values
    }
}
