import COpenBLAS

/// What the loaded OpenBLAS says about itself: build configuration, the kernel it chose for this CPU,
/// and its current thread count (which also governs LAPACK: on Debian, liblapack.so.3 is OpenBLAS's).
public enum OpenBLASInfo {
    /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64".
    public static var config: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }
    /// `openblas_get_corename()`, the kernel family chosen at load time, e.g. "Cooperlake".
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
    /// `openblas_get_num_threads()`: threads a BLAS call may use now.
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// `openblas_set_num_threads(n)`.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}
