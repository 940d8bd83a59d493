// CScaLAPACK: prototypes for the BLACS and ScaLAPACK routines PromptCL calls.
//
// Why this exists: ScaLAPACK 2.2 (Debian's libscalapack-openmpi) ships no C header. Fortran INTEGER is
// `int` here (LP64 build), arrays are column-major, every argument is passed by pointer, and each
// Fortran CHARACTER argument adds a hidden trailing `size_t` length after all other arguments (pass 1).
// Descriptors are int[9]: {DTYPE=1, CTXT, M, N, MB, NB, RSRC, CSRC, LLD}.
#ifndef PROMPTCL_CSCALAPACK_SHIM_H
#define PROMPTCL_CSCALAPACK_SHIM_H
#include <stddef.h>

// MARK: BLACS (C interface)
void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_get(int icontxt, int what, int *val);
void Cblacs_gridinit(int *icontxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int icontxt, int *nprow, int *npcol, int *myprow, int *mypcol);
void Cblacs_gridexit(int icontxt);
void Cblacs_exit(int notDone);
void Cblacs_barrier(int icontxt, const char *scope);
int Csys2blacs_handle(void *sysctxt);
void Cfree_blacs_system_handle(int isysctxt);

// MARK: Tools
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);

// MARK: Redistribution (C interface): copies sub(A) of one distribution into sub(B) of another.
void Cpdgemr2d(int m, int n, const double *a, int ia, int ja, const int *desca,
               double *b, int ib, int jb, const int *descb, int ictxt);

// MARK: Factorisations and decompositions (double)
void pdgeqrf_(const int *m, const int *n, double *a, const int *ia, const int *ja, const int *desca,
              double *tau, double *work, const int *lwork, int *info);
void pdgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n,
              double *a, const int *ia, const int *ja, const int *desca, double *s,
              double *u, const int *iu, const int *ju, const int *descu,
              double *vt, const int *ivt, const int *jvt, const int *descvt,
              double *work, const int *lwork, int *info, size_t jobu_len, size_t jobvt_len);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork, int *info,
              size_t jobz_len, size_t uplo_len);

// MARK: Which file is loaded
// ScaLAPACK has no version function; the real path of the loaded shared library carries the version
// (libscalapack-openmpi.so.2.2.1). glibc declares dladdr and Dl_info only under _GNU_SOURCE, which Swift's
// Glibc module is not built with, so the layout and an alias of dladdr are declared here under own names.
typedef struct {
    const char *dli_fname;  // file of the shared object that contains the address
    void *dli_fbase;
    const char *dli_sname;
    void *dli_saddr;
} promptcl_dl_info;
extern int promptcl_dladdr(const void *address, promptcl_dl_info *info) __asm__("dladdr");

/// The file name (as loaded, maybe a symbolic link) of the shared object that contains `address`, or NULL.
static inline const char *promptcl_shared_object_of(const void *address) {
    promptcl_dl_info info;
    return promptcl_dladdr(address, &info) != 0 ? info.dli_fname : (const char *)0;
}

/// The file name of the loaded ScaLAPACK (the object that defines pdgesvd_), or NULL.
static inline const char *cscalapack_library_file(void) {
    return promptcl_shared_object_of((const void *)&pdgesvd_);
}
#endif
