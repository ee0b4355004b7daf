// swift-tools-version:6.0
// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix: pixel-size tools for cryo-EM single-particle work in RELION projects (see README.md).
//
// The library (product AngpixKit) can be used from another package by version; it has no unsafe
// build flags. Run the tests in release mode (`swift test -c release`, the README's test command):
// the FFT, map and STAR tests then take seconds instead of minutes.
import PackageDescription

let package = Package(
    name: "angpix",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "angpix", targets: ["angpix"]),
        .library(name: "AngpixKit", targets: [
            "AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics", "AngpixModels",
            "AngpixCalibration", "AngpixPostprocess", "AngpixReport", "AngpixParticles", "AngpixProjectCheck",
            "AngpixRings", "AngpixSimulation", "AngpixCompression", "AngpixCryoSPARC", "AngpixRefine",
        ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Shared core: errors, atomic output files, memory maps, parallel loops, seeded random numbers.
        .target(name: "AngpixCore"),
        // STAR files: tokenizer, documents, typed columns, lossless writer, RELION optics/particle model.
        .target(name: "AngpixSTAR", dependencies: ["AngpixCore"]),
        // MRC2014 maps and stacks: header, modes, memory-mapped reading, validation.
        .target(name: "AngpixMRC", dependencies: ["AngpixCore", "AngpixCompression"]),
        // FFTs, Fourier crop/pad/resampling, shells and FSC.
        .target(name: "AngpixFourier", dependencies: ["AngpixCore"]),
        // Electron optics: wavelength, CTF, Zernike, magnification, pixel-size error fits (and their
        // report), optics tracing.
        .target(name: "AngpixOptics", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixFourier", "AngpixReport"]),
        // zlib from the system (every machine has it), to read gzip-compressed files without a package.
        .systemLibrary(name: "CAngpixZlib", path: "Sources/CAngpixZlib"),
        // Compressed files told by their magic bytes: gzip (system zlib) and bzip2 (in Swift).
        .target(name: "AngpixCompression", dependencies: ["AngpixCore", "CAngpixZlib"]),
        // Atomic models (PDB/mmCIF), scattering factors, model maps.
        .target(name: "AngpixModels", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixCompression"]),
        // Absolute pixel-size calibration against a model or a map.
        .target(name: "AngpixCalibration", dependencies: ["AngpixCore", "AngpixModels"]),
        // PostProcess: FSC, mask correction, sharpening, postprocess.star, its plots.
        .target(name: "AngpixPostprocess", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixReport"]),
        // SVG plots and HTML reports (knows nothing of the science).
        .target(name: "AngpixReport", dependencies: ["AngpixCore"]),
        // Rescaling whole particle sets (stacks + STAR) with sharding and resume.
        .target(name: "AngpixParticles", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier"]),
        // Project check: pixel-size traps in a RELION project, and the findings as text and HTML.
        .target(name: "AngpixProjectCheck", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixOptics", "AngpixReport"]),

        // Pixel size and magnification distortion from the rings of a diffraction standard.
        .target(name: "AngpixRings", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics", "AngpixReport"]),
        // Simulated images of diffraction standards (crystallites of a real lattice) and of single
        // particles (a RELION project with known optics per group), for tests and users.
        .target(name: "AngpixSimulation", dependencies: ["AngpixCore", "AngpixFourier", "AngpixOptics", "AngpixMRC", "AngpixSTAR", "AngpixPostprocess"]),
        // cryoSPARC .cs files (NumPy .npy records, memory-mapped) and their conversion to RELION STAR.
        .target(name: "AngpixCryoSPARC", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixOptics"]),

        // Optics refinement from the particles (RELION 3.1 CtfRefine's magnification, aberration
        // and defocus fits).
        .target(name: "AngpixRefine", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics", "AngpixReport"]),

        .executableTarget(name: "angpix", dependencies: [
            "AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics", "AngpixModels",
            "AngpixCalibration", "AngpixPostprocess", "AngpixReport", "AngpixParticles", "AngpixProjectCheck",
            "AngpixRings",
            "AngpixCryoSPARC", "AngpixRefine", "AngpixSimulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers: temporary folders, running the angpix binary, finding RELION, the fixtures.
        .target(name: "AngpixTestSupport", dependencies: ["AngpixCore"], path: "Tests/AngpixTestSupport"),
        .testTarget(name: "AngpixCoreTests", dependencies: ["AngpixCore", "AngpixCompression", "AngpixTestSupport"]),
        .testTarget(name: "AngpixSTARTests", dependencies: ["AngpixSTAR", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixMRCTests", dependencies: ["AngpixMRC", "AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixFourierTests", dependencies: ["AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixOpticsTests", dependencies: ["AngpixOptics", "AngpixTestSupport"]),
        .testTarget(name: "AngpixModelsTests", dependencies: ["AngpixModels", "AngpixTestSupport"]),
        .testTarget(name: "AngpixCalibrationTests", dependencies: ["AngpixCalibration", "AngpixModels", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixPostprocessTests", dependencies: ["AngpixPostprocess", "AngpixMRC", "AngpixSTAR", "AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixReportTests", dependencies: ["AngpixReport", "AngpixTestSupport"]),
        .testTarget(name: "AngpixParticlesTests", dependencies: ["AngpixParticles", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixProjectCheckTests", dependencies: ["AngpixProjectCheck", "AngpixMRC", "AngpixReport", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixRingsTests", dependencies: ["AngpixRings", "AngpixSimulation", "AngpixMRC", "AngpixSTAR",
                                                             "AngpixOptics", "AngpixCore", "AngpixTestSupport", "angpix"]),
        .testTarget(name: "AngpixCryoSPARCTests", dependencies: ["angpix", "AngpixCryoSPARC", "AngpixOptics", "AngpixSTAR", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixSimulationTests", dependencies: ["AngpixSimulation", "AngpixOptics", "AngpixFourier", "AngpixSTAR",
                                                                  "AngpixMRC", "AngpixCore", "AngpixTestSupport", "angpix"]),
        .testTarget(name: "AngpixRefineTests", dependencies: ["angpix", "AngpixRefine", "AngpixSimulation", "AngpixOptics", "AngpixFourier",
                                                              "AngpixSTAR", "AngpixMRC", "AngpixCore", "AngpixTestSupport"]),
        // End-to-end tests of the angpix command (runs the built binary).
        .testTarget(name: "AngpixCLITests", dependencies: ["angpix", "AngpixTestSupport", "AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixModels", "AngpixPostprocess"]),
        // The code of docs/library.md, compiled and run against the public API only (no @testable,
        // no test helpers): what a package that depends on AngpixKit can write.
        .testTarget(name: "AngpixLibraryGuideTests", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics"]),
    ],
    swiftLanguageModes: [.v6]
)
