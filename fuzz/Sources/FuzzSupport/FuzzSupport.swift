// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Shared by the fuzz targets: the readers take paths (they memory-map), so each input is written
// to one file in shared memory and read from there.

import Foundation

private let inputDirectory: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(dir)/angpix-fuzz-\(getpid())"
}()

/// Writes the fuzzer's input to a file and returns its path.
public func fuzzInputFile(_ data: UnsafePointer<UInt8>, _ size: Int, suffix: String) -> String {
    try? FileManager.default.createDirectory(atPath: inputDirectory, withIntermediateDirectories: true)
    let path = "\(inputDirectory)/input.\(suffix)"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot write the fuzz input file \(path)")
    var offset = 0
    while offset < size {
        let n = write(fd, data + offset, size - offset)
        precondition(n > 0, "cannot write the fuzz input file \(path)")
        offset += n
    }
    close(fd)
    return path
}

/// libFuzzer's driver, for programs that have their own `main` (SwiftPM executables always do).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Runs libFuzzer with the process's arguments and `target` as the function under test.
public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, target)
    exit(status)
}
