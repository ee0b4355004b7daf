// swift-tools-version:6.0
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
            "AngpixCryoSPARC",
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
        .target(name: "AngpixMRC", dependencies: ["AngpixCore"]),
        // FFTs, Fourier crop/pad/resampling, shells and FSC.
        .target(name: "AngpixFourier", dependencies: ["AngpixCore"]),
        // Electron optics: wavelength, CTF, Zernike, magnification, pixel-size error fits, optics tracing.
        .target(name: "AngpixOptics", dependencies: ["AngpixCore", "AngpixSTAR"]),
        // zlib from the system (every machine has it), to read gzip-compressed files without a package.
        .systemLibrary(name: "CAngpixZlib", path: "Sources/CAngpixZlib"),
        // Atomic models (PDB/mmCIF), scattering factors, model maps.
        .target(name: "AngpixModels", dependencies: ["AngpixCore", "AngpixSTAR", "CAngpixZlib"]),
        // Absolute pixel-size calibration against a model or a map.
        .target(name: "AngpixCalibration", dependencies: ["AngpixCore", "AngpixModels"]),
        // PostProcess: FSC, mask correction, sharpening, postprocess.star.
        .target(name: "AngpixPostprocess", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier"]),
        // SVG plots and HTML reports (knows nothing of the science).
        .target(name: "AngpixReport", dependencies: ["AngpixCore"]),
        // Rescaling whole particle sets (stacks + STAR) with sharding and resume.
        .target(name: "AngpixParticles", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier"]),
        // Project check: pixel-size traps in a RELION project.
        .target(name: "AngpixProjectCheck", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixOptics"]),
        // cryoSPARC .cs files (NumPy .npy records, memory-mapped) and their conversion to RELION STAR.
        .target(name: "AngpixCryoSPARC", dependencies: ["AngpixCore", "AngpixSTAR", "AngpixOptics"]),

        .executableTarget(name: "angpix", dependencies: [
            "AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixFourier", "AngpixOptics", "AngpixModels",
            "AngpixCalibration", "AngpixPostprocess", "AngpixReport", "AngpixParticles", "AngpixProjectCheck",
            "AngpixCryoSPARC",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers: temporary folders, running the angpix binary, finding RELION, the fixtures.
        .target(name: "AngpixTestSupport", dependencies: ["AngpixCore"], path: "Tests/AngpixTestSupport"),
        .testTarget(name: "AngpixCoreTests", dependencies: ["AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixSTARTests", dependencies: ["AngpixSTAR", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixMRCTests", dependencies: ["AngpixMRC", "AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixFourierTests", dependencies: ["AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixOpticsTests", dependencies: ["AngpixOptics", "AngpixTestSupport"]),
        .testTarget(name: "AngpixModelsTests", dependencies: ["AngpixModels", "AngpixTestSupport"]),
        .testTarget(name: "AngpixCalibrationTests", dependencies: ["AngpixCalibration", "AngpixModels", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixPostprocessTests", dependencies: ["AngpixPostprocess", "AngpixMRC", "AngpixSTAR", "AngpixFourier", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixReportTests", dependencies: ["AngpixReport", "AngpixTestSupport"]),
        .testTarget(name: "AngpixParticlesTests", dependencies: ["AngpixParticles", "AngpixSTAR", "AngpixMRC", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixProjectCheckTests", dependencies: ["AngpixProjectCheck", "AngpixMRC", "AngpixCore", "AngpixTestSupport"]),
        .testTarget(name: "AngpixCryoSPARCTests", dependencies: ["angpix", "AngpixCryoSPARC", "AngpixOptics", "AngpixSTAR", "AngpixCore", "AngpixTestSupport"]),
        // End-to-end tests of the angpix command (runs the built binary).
        .testTarget(name: "AngpixCLITests", dependencies: ["angpix", "AngpixTestSupport", "AngpixCore", "AngpixSTAR", "AngpixMRC", "AngpixModels", "AngpixPostprocess"]),
    ],
    swiftLanguageModes: [.v6]
)
