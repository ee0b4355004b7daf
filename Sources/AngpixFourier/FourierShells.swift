// Fourier shells of a half-complex spectrum, radial averages, and the Fourier shell correlation.
//
// Layout: a half-complex spectrum of real shape [nz, ny, nx] (slowest first) has shape
// [nz, ny, nx/2+1]; the signed frequency of index i along an axis of size n is
// i <= n/2 ? i : i − n (so the Nyquist index n/2 of an even axis counts as +n/2, as in RELION's
// FOR_ALL_ELEMENTS_IN_FFTW_TRANSFORM). The shell of an element is round(|k|) with |k| in units of
// 1/box: for a cubic (or square) box that is round(sqrt(kz² + ky² + kx²)) on integer
// frequencies, exactly RELION's getFSC. For a non-cubic box the frequency is measured in
// physical units and expressed in units of 1/nx: round(nx · sqrt(Σ (k_a/n_a)²)). Shells run
// 0 ... nx/2 (RELION keeps XSIZE = nx/2+1 shells); elements beyond (the corners) belong to no
// shell (index −1).
//
// FSC (RELION src/fftw.cpp getFSC): for each shell s,
//   FSC(s) = Σ Re(a·conj b) / sqrt(Σ|a|² · Σ|b|²)
// summed over the stored half-complex elements of the shell (no weighting for the kx = 0 plane,
// as in RELION). Sums are in Double.

import Foundation

/// The signed frequency of index `i` along a Fourier axis of size `n`: i ≤ n/2 ? i : i − n.
@inlinable public func fourierFrequency(_ i: Int, _ n: Int) -> Int { i <= n / 2 ? i : i - n }

/// Shell indices of every element of a half-complex spectrum, for FSCs and radial averages.
///
/// Immutable; build one per shape and reuse it (the index table has `spectrumCount` entries).
public final class FourierShells: @unchecked Sendable {
    /// The real-space shape (slowest first).
    public let shape: [Int]
    /// The half-complex spectrum shape.
    public let spectrumShape: [Int]
    /// The number of shells: nx/2 + 1 (shell 0 is the origin, shell nx/2 is Nyquist).
    public let count: Int
    /// The shell of each half-complex element (row-major, x fastest), or −1 beyond the last shell.
    public let index: [Int32]
    /// The number of half-complex elements in each shell.
    public let elementCounts: [Int]

    /// Computes the shell table of `shape` (1, 2 or 3 dimensions, each of size ≥ 1).
    public init(shape: [Int]) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { throw FourierError.invalidShape(shape) }
        self.shape = shape
        let nx = shape[shape.count - 1]
        var spec = shape
        spec[spec.count - 1] = nx / 2 + 1
        spectrumShape = spec
        count = nx / 2 + 1
        let total = spec.reduce(1, *)
        let cubic = shape.allSatisfy { $0 == nx }
        var idx = [Int32](repeating: -1, count: total)
        var counts = [Int](repeating: 0, count: count)
        let d = shape.count
        // Iterate over all elements with an odometer over the axes.
        var pos = [Int](repeating: 0, count: d)
        for e in 0..<total {
            var r2 = 0.0
            if cubic {
                var s = 0
                for a in 0..<d { let k = fourierFrequency(pos[a], shape[a]); s += k * k }
                r2 = Double(s)
            } else {
                for a in 0..<d {
                    let k = Double(fourierFrequency(pos[a], shape[a])) / Double(shape[a]) * Double(nx)
                    r2 += k * k
                }
            }
            let shell = Int(r2.squareRoot().rounded())
            if shell < count {
                idx[e] = Int32(shell)
                counts[shell] += 1
            }
            var a = d - 1
            while a >= 0 {
                pos[a] += 1
                if pos[a] < spec[a] { break }
                pos[a] = 0
                a -= 1
            }
        }
        index = idx
        elementCounts = counts
    }

    /// The Fourier shell correlation of two spectra of this shape, one value per shell
    /// 0 ... nx/2 (RELION's getFSC). A shell where either spectrum has no power gets 0.
    public func fsc(_ a: [Complex32], _ b: [Complex32]) -> [Double] {
        precondition(a.count == index.count && b.count == index.count,
                     "fsc: spectra have \(a.count) and \(b.count) values, the shape needs \(index.count)")
        var num = [Double](repeating: 0, count: count)
        var d1 = num, d2 = num
        for e in 0..<index.count {
            let s = Int(index[e])
            if s < 0 { continue }
            let x = a[e], y = b[e]
            let xr = Double(x.re), xi = Double(x.im), yr = Double(y.re), yi = Double(y.im)
            num[s] += xr * yr + xi * yi
            d1[s] += xr * xr + xi * xi
            d2[s] += yr * yr + yi * yi
        }
        return (0..<count).map { s in
            let den = (d1[s] * d2[s]).squareRoot()
            return den > 0 ? num[s] / den : 0
        }
    }

    /// The mean of `values` (one per half-complex element) over each shell; 0 for an empty shell.
    public func radialAverage(_ values: [Double]) -> [Double] {
        precondition(values.count == index.count, "radialAverage: \(values.count) values, the shape needs \(index.count)")
        var sum = [Double](repeating: 0, count: count)
        for e in 0..<index.count where index[e] >= 0 { sum[Int(index[e])] += values[e] }
        return (0..<count).map { elementCounts[$0] > 0 ? sum[$0] / Double(elementCounts[$0]) : 0 }
    }

    /// The mean amplitude |F| in each shell (the radially averaged amplitude spectrum).
    public func radialAmplitude(_ spectrum: [Complex32]) -> [Double] {
        precondition(spectrum.count == index.count)
        return radialAverage(spectrum.map { Double($0.magnitude) })
    }

    /// The mean power |F|² in each shell (the radially averaged power spectrum).
    public func radialPower(_ spectrum: [Complex32]) -> [Double] {
        precondition(spectrum.count == index.count)
        return radialAverage(spectrum.map { Double($0.normSquared) })
    }
}

/// The shell index (round(|k|) in units of 1/box, −1 beyond Nyquist) of every half-complex
/// element of a transform of `shape`; see `FourierShells` for non-cubic boxes.
public func fourierShellIndex(shape: [Int]) throws -> [Int32] {
    try FourierShells(shape: shape).index
}

/// The Fourier shell correlation of two half-complex spectra of a real array of `shape`, one
/// value per shell 0 ... nx/2 (RELION's getFSC: Σ Re(a·conj b) / sqrt(Σ|a|²·Σ|b|²) per shell).
/// Shells without power get 0. Precondition: both spectra have the shape's spectrum size.
public func fsc(_ a: [Complex32], _ b: [Complex32], shape: [Int]) -> [Double] {
    guard let shells = try? FourierShells(shape: shape) else {
        preconditionFailure("fsc: invalid shape \(shape)")
    }
    return shells.fsc(a, b)
}

/// Radially averaged values of a real-space array around a centre (for instance a mask's or a
/// map's profile): the mean over voxels with round(distance) = r, r = 0 ... maxRadius.
/// The centre defaults to (n/2, ...) on every axis, RELION's origin for a box.
public func realSpaceRadialAverage(_ data: [Float], shape: [Int], center: [Double]? = nil,
                                   maxRadius: Int? = nil) -> [Double] {
    precondition(data.count == shape.reduce(1, *), "realSpaceRadialAverage: data does not match shape")
    let c = center ?? shape.map { Double($0 / 2) }
    let rmax = maxRadius ?? (shape.min()! / 2)
    var sum = [Double](repeating: 0, count: rmax + 1), n = [Int](repeating: 0, count: rmax + 1)
    var pos = [Int](repeating: 0, count: shape.count)
    for e in 0..<data.count {
        var r2 = 0.0
        for a in 0..<shape.count { let d = Double(pos[a]) - c[a]; r2 += d * d }
        let r = Int(r2.squareRoot().rounded())
        if r <= rmax { sum[r] += Double(data[e]); n[r] += 1 }
        var a = shape.count - 1
        while a >= 0 {
            pos[a] += 1
            if pos[a] < shape[a] { break }
            pos[a] = 0
            a -= 1
        }
    }
    return (0...rmax).map { n[$0] > 0 ? sum[$0] / Double(n[$0]) : 0 }
}
