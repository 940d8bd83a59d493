// COpenBLAS: OpenBLAS's CBLAS interface and its thread and configuration queries
// (cblas_sgemm, openblas_set_num_threads, openblas_get_config, ...).
// Why this exists: Debian keeps cblas.h under the openblas-pthread include folder, which the
// pkg-config file `openblas` adds to the search path.
#ifndef PROMPTCL_COPENBLAS_SHIM_H
#define PROMPTCL_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
