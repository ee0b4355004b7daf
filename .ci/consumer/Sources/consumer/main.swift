// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A user's program built against angpix by version (CI only): reads a RELION 3.1 STAR file's
// optics groups, evaluates a CTF, writes and reads back an MRC map. Exits 1 if anything is off.
import AngpixCore
import AngpixMRC
import AngpixOptics
import AngpixSTAR
import Foundation

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("angpix-consumer-\(getpid())").path
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }

let star = """
# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnAmplitudeContrast #3
_rlnSphericalAberration #4
_rlnVoltage #5
_rlnImagePixelSize #6
_rlnImageSize #7
_rlnImageDimensionality #8
1 opticsGroup1 0.1 2.7 300 1.06 256 2

"""
let starPath = dir + "/particles.star"
try star.write(toFile: starPath, atomically: true, encoding: .utf8)
let document = try STARDocument(path: starPath)
let optics = try OpticsTable(block: document.block("optics")!, file: starPath)
let group = optics.groups[0]
print("optics group \(group.number) \(group.name): \(group.imagePixelSize) Å/px, box \(group.imageSize)")

let ctf = try CTF(CTFParameters(defocusU: 10_000, voltage: group.voltage,
                                sphericalAberration: group.sphericalAberration,
                                amplitudeContrast: group.amplitudeContrast))
let value = ctf.value(x: 0.1, y: 0)
print("CTF at 10 Å: \(value)")

var map = MRCMap(nx: 8, ny: 8, nz: 8, pixelSize: group.imagePixelSize)
for i in 0..<map.count { map.data[i] = Float(i % 7) }
let mapPath = dir + "/map.mrc"
try MRCFile.write(map, to: mapPath, policy: OutputPolicy())
let back = try MRCFile.readMap(path: mapPath)
print("map \(back.nx)×\(back.ny)×\(back.nz) at \(back.pixelSize) Å/px")

guard group.imagePixelSize == 1.06, abs(value) <= 1, back.data == map.data, abs(back.pixelSize - 1.06) < 1e-6 else {
    print("consumer: unexpected result"); exit(1)
}
print("consumer: ok")
