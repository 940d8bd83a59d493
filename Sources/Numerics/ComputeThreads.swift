import COpenBLAS

/// How many threads a rank computes with: OpenBLAS's pool for GEMMs and the same count for the
/// row-parallel kernels (`parallelRows`). Set once at start-up, before any step.
public enum ComputeThreads {
    /// Threads the non-GEMM kernels split rows over.
    public private(set) static var kernelThreads: Int = Int(openblas_get_num_threads())

    /// OpenBLAS's current thread count.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    /// Sets both OpenBLAS's thread count and the kernels' to `count` (at least 1).
    public static func set(_ count: Int) {
        let threads = max(1, count)
        openblas_set_num_threads(Int32(threads))
        kernelThreads = threads
    }
}
