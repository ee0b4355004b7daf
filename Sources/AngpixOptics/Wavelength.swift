// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The relativistic electron wavelength, λ = h / sqrt(2 m₀ e V (1 + e V / (2 m₀ c²))), in the
// numerical form RELION uses (src/ctf.cpp, CTF::initialise): λ = 12.2643247 / sqrt(V (1 + 0.978466e-6 V)) Å
// with V the accelerating voltage in volts.

import Foundation

/// The relativistic wavelength of electrons accelerated through `kilovolts` kV, in Å
/// (0.0197 Å at 300 kV, 0.0251 Å at 200 kV).
public func electronWavelength(kilovolts: Double) -> Double {
    let volts = kilovolts * 1000
    return 12.2643247 / (volts * (1 + volts * 0.978466e-6)).squareRoot()
}
