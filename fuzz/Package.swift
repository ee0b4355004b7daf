// swift-tools-version:6.0
// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// libFuzzer targets for angpix's readers. Built by fuzz/run.sh with -sanitize=fuzzer,address;
// kept out of the main package so that `swift test` never needs the sanitizers.
import PackageDescription

// The fuzzer runtime's own `main` and SwiftPM's renamed entry point upset gold; lld links them.
let lld: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"])]

let package = Package(
    name: "angpix-fuzz",
    dependencies: [.package(name: "angpix", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzSTAR", dependencies: ["FuzzSupport", .product(name: "AngpixKit", package: "angpix")],
                          linkerSettings: lld),
        .executableTarget(name: "FuzzModel", dependencies: ["FuzzSupport", .product(name: "AngpixKit", package: "angpix")],
                          linkerSettings: lld),
        .executableTarget(name: "FuzzMRC", dependencies: ["FuzzSupport", .product(name: "AngpixKit", package: "angpix")],
                          linkerSettings: lld),
    ],
    swiftLanguageModes: [.v6]
)
