// swift-tools-version:6.0
// angpix: pixel-size tools for cryo-EM single-particle work (see README.md).
import PackageDescription

// The numeric modules are compiled with optimisation even in debug builds, so that `swift test`
// exercises real-sized FFTs, maps and STAR files in seconds rather than minutes.
let optimized: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "angpix",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "angpix", targets: ["angpix"]),
        .executable(name: "angpix-bench", targets: ["angpix-bench"]),
        .library(name: "AngpixKit", targets: [
            "AngpixCore", "STARFile", "MRC", "Fourier", "Optics", "Models",
            "Calibration", "Postprocess", "Report", "Particles", "ProjectCheck",
        ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // Shared core: errors, atomic output files, small numeric helpers.
        .target(name: "AngpixCore"),
        // STAR files: tokenizer, documents, lossless writer, RELION optics/particle model.
        .target(name: "STARFile", dependencies: ["AngpixCore"], swiftSettings: optimized),
        // MRC2014 maps and stacks: header, modes, memory-mapped reading, validation.
        .target(name: "MRC", dependencies: ["AngpixCore"], swiftSettings: optimized),
        // FFTs, Fourier crop/pad/resampling, shells and FSC.
        .target(name: "Fourier", dependencies: ["AngpixCore"], swiftSettings: optimized),
        // Electron optics: wavelength, CTF, Zernike, magnification, pixel-size error fits, optics tracing.
        .target(name: "Optics", dependencies: [
            "AngpixCore", "STARFile", "Fourier",
            .product(name: "Numerics", package: "swift-numerics"),
        ], swiftSettings: optimized),
        // zlib from the system (every machine has it), to read gzip-compressed models without a new package.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Atomic models (PDB/mmCIF), scattering factors, model maps.
        .target(name: "Models", dependencies: ["AngpixCore", "STARFile", "Fourier", "CZlib"], swiftSettings: optimized),
        // Absolute pixel-size calibration against a model or a map.
        .target(name: "Calibration", dependencies: ["AngpixCore", "MRC", "Fourier", "Models"], swiftSettings: optimized),
        // PostProcess: FSC, mask correction, sharpening, postprocess.star.
        .target(name: "Postprocess", dependencies: ["AngpixCore", "STARFile", "MRC", "Fourier"], swiftSettings: optimized),
        // SVG plots and HTML reports (knows nothing of the science).
        .target(name: "Report", dependencies: ["AngpixCore"]),
        // Rescaling whole particle sets (stacks + STAR) with sharding and resume.
        .target(name: "Particles", dependencies: ["AngpixCore", "STARFile", "MRC", "Fourier"], swiftSettings: optimized),
        // Project check: pixel-size traps in a RELION project.
        .target(name: "ProjectCheck", dependencies: ["AngpixCore", "STARFile", "MRC", "Optics"]),

        .executableTarget(name: "angpix", dependencies: [
            "AngpixCore", "STARFile", "MRC", "Fourier", "Optics", "Models", "Calibration",
            "Postprocess", "Report", "Particles", "ProjectCheck",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "angpix-bench", dependencies: [
            "AngpixCore", "STARFile", "MRC", "Fourier", "Optics", "Models", "Calibration",
            "Postprocess", "Particles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers: temporary folders, running the angpix binary, finding RELION.
        .target(name: "TestSupport", dependencies: ["AngpixCore"], path: "Tests/TestSupport"),
        .testTarget(name: "AngpixCoreTests", dependencies: ["AngpixCore", "TestSupport"]),
        .testTarget(name: "STARFileTests", dependencies: ["STARFile", "TestSupport"]),
        .testTarget(name: "MRCTests", dependencies: ["MRC", "Fourier", "TestSupport"]),
        .testTarget(name: "FourierTests", dependencies: ["Fourier", "TestSupport"]),
        .testTarget(name: "OpticsTests", dependencies: ["Optics", "STARFile", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TestSupport"]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Models", "MRC", "TestSupport"]),
        .testTarget(name: "PostprocessTests", dependencies: ["Postprocess", "MRC", "STARFile", "Fourier", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "TestSupport"]),
        .testTarget(name: "ParticlesTests", dependencies: ["Particles", "STARFile", "MRC", "TestSupport"]),
        .testTarget(name: "ProjectCheckTests", dependencies: ["ProjectCheck", "STARFile", "MRC", "TestSupport"]),
        // End-to-end tests of the angpix command (runs the built binary).
        .testTarget(name: "CLITests", dependencies: ["angpix", "TestSupport", "STARFile", "MRC", "Models", "Postprocess"]),
    ],
    swiftLanguageModes: [.v6]
)
