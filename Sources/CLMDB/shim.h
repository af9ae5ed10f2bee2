#ifndef LINLI_CLMDB_SHIM_H
#define LINLI_CLMDB_SHIM_H
// Debian's liblmdb-dev installs lmdb.h at /usr/include; the shim keeps the module map independent of that path.
#include <lmdb.h>
#endif
