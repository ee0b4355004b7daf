// zlib (https://zlib.net), the system library, for reading gzip-compressed models (.pdb.gz, .cif.gz).
#include <zlib.h>
