// Elastic electron atomic scattering factors of neutral atoms, five-Gaussian parameterisation
//   f(s) = Σ_{i=1..5} a_i exp(-b_i s²),   s = sin(θ)/λ (Å⁻¹),  f in Å, b_i in Å²,
// fitted for 0 ≤ s ≤ 2 Å⁻¹ in:
//   L.-M. Peng, G. Ren, S. L. Dudarev and M. J. Whelan, "Robust parameterization of elastic and
//   absorptive electron atomic scattering factors", Acta Cryst. A52 (1996) 257-276, Table 1.
// This file holds only the table (written from the published values). Elements whose values the
// authors of angpix could not reproduce reliably are left out on purpose: a model containing
// them gets a clear error (ModelError.noScatteringFactors) instead of a guessed curve.
// Check: f(0) = Σ a_i equals the hydrogen Bohr radius 0.529 Å for H, ≈2.51 Å for C.

/// The Peng et al. (1996) five-Gaussian table: element -> (a_1...a_5 in Å, b_1...b_5 in Å²).
public let pengScatteringFactors: [String: (a: [Double], b: [Double])] = [
    "H": (a: [0.0349, 0.1201, 0.1970, 0.0573, 0.1195], b: [0.5347, 3.5867, 12.3471, 18.9525, 38.6269]),
    "C": (a: [0.0893, 0.2563, 0.7570, 1.0487, 0.3575], b: [0.2465, 1.7100, 6.4094, 18.6113, 50.2523]),
    "N": (a: [0.1022, 0.3219, 0.7982, 0.8197, 0.1715], b: [0.2451, 1.7481, 6.1925, 17.3894, 48.1431]),
    "O": (a: [0.0974, 0.2921, 0.6910, 0.6990, 0.2039], b: [0.2067, 1.3815, 4.6943, 12.7105, 32.4726]),
    "P": (a: [0.2548, 0.6106, 1.4541, 2.3204, 0.8477], b: [0.2908, 1.8740, 8.5176, 24.3434, 63.2996]),
    "S": (a: [0.2497, 0.5628, 1.3899, 2.1865, 0.7715], b: [0.2681, 1.6711, 7.0267, 19.5377, 50.3888]),
]
