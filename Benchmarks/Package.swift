// swift-tools-version:6.0
// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// angpix-bench: throughput of angpix beside the field's tools (RELION, starfile, gemmi, scipy, EMDA),
// as ratios. A tool of this repository, not a product of the angpix package: run it from the
// repository's root with `swift run --package-path Benchmarks -c release angpix-bench star`.
import PackageDescription

let package = Package(
    name: "angpix-bench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "angpix", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(name: "angpix-bench", dependencies: [
            .product(name: "AngpixKit", package: "angpix"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
