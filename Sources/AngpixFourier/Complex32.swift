// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Complex32: a single-precision complex number laid out as two Floats (re, im), the element type
// of every half-complex spectrum in angpix (the same memory layout as C's `float _Complex`,
// FFTW's `fftwf_complex` and numpy's complex64).

/// A single-precision complex number stored as two consecutive Floats (real, imaginary).
public struct Complex32: Sendable, Hashable, CustomStringConvertible {
    /// The real part.
    public var re: Float
    /// The imaginary part.
    public var im: Float

    @inlinable public init(re: Float, im: Float) { self.re = re; self.im = im }
    @inlinable public init(_ re: Float, _ im: Float = 0) { self.re = re; self.im = im }

    /// Zero.
    public static let zero = Complex32(0, 0)

    /// The complex conjugate.
    @inlinable public var conjugate: Complex32 { Complex32(re, -im) }
    /// |z|².
    @inlinable public var normSquared: Float { re * re + im * im }
    /// |z|.
    @inlinable public var magnitude: Float { (re * re + im * im).squareRoot() }

    public var description: String { im < 0 ? "\(re)-\(-im)i" : "\(re)+\(im)i" }

    @inlinable public static func + (a: Complex32, b: Complex32) -> Complex32 { Complex32(a.re + b.re, a.im + b.im) }
    @inlinable public static func - (a: Complex32, b: Complex32) -> Complex32 { Complex32(a.re - b.re, a.im - b.im) }
    @inlinable public static func * (a: Complex32, b: Complex32) -> Complex32 {
        Complex32(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    @inlinable public static func * (a: Complex32, s: Float) -> Complex32 { Complex32(a.re * s, a.im * s) }
    @inlinable public static func * (s: Float, a: Complex32) -> Complex32 { Complex32(a.re * s, a.im * s) }
    @inlinable public static func += (a: inout Complex32, b: Complex32) { a = a + b }
    @inlinable public static func -= (a: inout Complex32, b: Complex32) { a = a - b }
    @inlinable public static prefix func - (a: Complex32) -> Complex32 { Complex32(-a.re, -a.im) }
}
