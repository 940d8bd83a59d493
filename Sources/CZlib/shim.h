// CZlib: zlib, for `promptcl prepare` and the prepared shards: gzopen/gzread (Fashion-MNIST's gzipped IDX
// files) and crc32_z (the shards' checksums).
#ifndef PROMPTCL_CZLIB_SHIM_H
#define PROMPTCL_CZLIB_SHIM_H
#include <zlib.h>
#endif
