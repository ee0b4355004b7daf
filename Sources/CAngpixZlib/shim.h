// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// zlib (https://zlib.net), the system library, for reading gzip-compressed models (.pdb.gz, .cif.gz).
#include <zlib.h>
