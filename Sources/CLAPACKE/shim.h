// CLAPACKE: the C interface to LAPACK (LAPACKE_dgesdd, LAPACKE_dgeqrf, ...), used for the one-rank
// SVD reference and the small SVD after a distributed QR. LAPACK itself resolves to OpenBLAS on Debian.
#ifndef PROMPTCL_CLAPACKE_SHIM_H
#define PROMPTCL_CLAPACKE_SHIM_H
#include <lapacke.h>
#endif
