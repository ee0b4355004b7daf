#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
"""Write the seed corpora of angpix's fuzz targets: small valid STAR, MRC and PDB/mmCIF files
covering the syntax and modes the readers support. usage: make_seeds.py OUTDIR"""
import gzip, os, struct, sys

out = sys.argv[1]
def put(kind, name, data):
    d = os.path.join(out, kind); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# STAR: RELION 3.0 and 3.1 particle files, key-value blocks, quoting, CRLF, mmCIF.
optics = ("data_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n_rlnAmplitudeContrast #3\n"
          "_rlnSphericalAberration #4\n_rlnVoltage #5\n_rlnImagePixelSize #6\n_rlnImageSize #7\n"
          "_rlnImageDimensionality #8\n_rlnEvenZernike #9\n"
          "1 dataset1 0.1 2.7 300 1.0 140 2 [0.1,0.2,-0.3,0.4,0.5,0.6,0.07]\n"
          "2 'data set 2' 0.1 2.7 300 1.1 128 2 [0,0,0,0,0,0,0]\n\n")
particles = ("data_particles\n\nloop_\n_rlnImageName\n_rlnMicrographName\n_rlnOpticsGroup\n_rlnDefocusU\n"
             "_rlnOriginXAngst\n000001@Extract/job007/a.mrcs mics/a.mrc 1 1.4e-05 -2.00000\n"
             "000002@Extract/job007/b.mrcs \"mics/b c.mrc\" 2 15000.5 \"\"\n")
put("star", "relion31.star", "\n# version 30001\n\n" + optics + "# version 30001\n\n" + particles)
put("star", "relion30.star", "data_\nloop_\n_rlnImageName #1\n_rlnMagnification #2\n_rlnDetectorPixelSize #3\n"
    "_rlnOriginX #4\n1@s.mrcs 10000 5 1.5\n2@s.mrcs 10000 5 -0.5")
put("star", "crlf.star", (optics + particles).replace("\n", "\r\n"))
put("star", "general.star", "data_general\n\n_rlnFinalResolution 3.2\n_rlnBfactorUsedForSharpening -85.5\n"
    "_rlnMaskName 'mask name.mrc'\n\ndata_fsc\nloop_\n_rlnSpectralIndex\n_rlnResolution\n0 0.0\n1 0.01\n")
put("star", "mmcif.cif", "data_1ABC\n_entry.id 1ABC\nloop_\n_atom_site.group_PDB\n_atom_site.id\n"
    "_atom_site.type_symbol\n_atom_site.label_atom_id\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n"
    "_atom_site.occupancy\n_atom_site.B_iso_or_equiv\nATOM 1 N N 11.1 2.2 3.3 1.00 20.0\n"
    "ATOM 2 C CA 12.1 2.5 3.1 1.00 21.0\nHETATM 3 O \"O5'\" 13.0 2.0 1.0 0.50 30.0\n")

# MRC: each mode, both byte orders, a stack, an extended header.
def mrc(nx, ny, nz, mode, values, little=True, ispg=1, nsymbt=0, apix=1.0):
    e = "<" if little else ">"
    h = bytearray(1024)
    struct.pack_into(e + "10i", h, 0, nx, ny, nz, mode, 0, 0, 0, nx, ny, nz)
    struct.pack_into(e + "3f", h, 40, nx * apix, ny * apix, nz * apix)
    struct.pack_into(e + "3f", h, 52, 90, 90, 90)
    struct.pack_into(e + "3i", h, 64, 1, 2, 3)
    struct.pack_into(e + "2i", h, 88, ispg, nsymbt)
    h[208:212] = b"MAP "
    h[212:216] = bytes([0x44, 0x44, 0, 0]) if little else bytes([0x11, 0x11, 0, 0])
    fmt = {0: "b", 1: "h", 2: "f", 6: "H"}
    if mode == 12:
        body = b"".join(struct.pack(e + "e", v) for v in values)
    elif mode == 101:
        body = bytes((int(values[i]) & 15) | ((int(values[i + 1]) & 15) << 4) for i in range(0, len(values), 2))
    else:
        body = struct.pack(e + str(len(values)) + fmt[mode], *[int(v) if mode != 2 else v for v in values])
    return bytes(h) + b"\0" * nsymbt + body

vals = [((i * 7) % 11) - 3 for i in range(4 * 4 * 2)]
for mode in (0, 1, 2, 12):
    put("mrc", f"mode{mode}.mrc", mrc(4, 4, 2, mode, vals))
    put("mrc", f"mode{mode}_be.mrc", mrc(4, 4, 2, mode, vals, little=False))
put("mrc", "mode6.mrc", mrc(4, 4, 2, 6, [abs(v) for v in vals]))
put("mrc", "mode101.mrc", mrc(4, 4, 2, 101, [abs(v) for v in vals]))
put("mrc", "stack.mrcs", mrc(4, 4, 3, 2, [float(i) for i in range(48)], ispg=0))
put("mrc", "exthdr.mrc", mrc(4, 4, 2, 2, vals, nsymbt=128))

# PDB and mmCIF models.
pdb = ("HEADER    TEST\nCRYST1   50.000   50.000   50.000  90.00  90.00  90.00 P 1           1\n"
       "MODEL        1\n"
       "ATOM      1  N   MET A   1      11.104   6.134  -6.504  1.00 20.00           N  \n"
       "ATOM      2  CA AMET A   1      11.639   6.071  -5.147  0.60 21.00           C  \n"
       "ATOM      3  CA BMET A   1      11.700   6.000  -5.100  0.40 21.00           C  \n"
       "HETATM    4 ZN    ZN A 101       1.000   2.000   3.000  1.00 30.00          ZN2+\n"
       "ENDMDL\nMODEL        2\n"
       "ATOM      1  N   MET A   1      12.104   6.134  -6.504  1.00 20.00           N  \n"
       "ENDMDL\nEND\n")
put("model", "small.pdb", pdb)
put("model", "small.pdb.gz", gzip.compress(pdb.encode()))
with open(os.path.join(out, "star", "mmcif.cif"), "rb") as f:
    put("model", "small.cif", f.read())
