import Foundation

/// How long OpenBLAS's idle pool workers spin before they sleep, and the setting PromptCL starts with.
///
/// After every threaded BLAS call, each worker of OpenBLAS's pthread pool polls for its next job in a
/// `sched_yield` loop for 2^t cycles of the time-stamp counter, t = `OPENBLAS_THREAD_TIMEOUT` (default 28:
/// about 0.1 s at 2.5 GHz), and only then sleeps on a condition variable. Between its GEMMs a training step runs
/// its own kernel threads (attention's (b, h) pairs, GELU, softmax, LayerNorm): on a rank with as many threads as
/// cores, the spinning worker takes a core from them. On 2 cores at batch 8 that slowed the ViT-B/16 VPT step
/// by 7-11%.
///
/// `sleepPromptly()` sets t = 4 (OpenBLAS's minimum: a worker sleeps at once and the next call wakes it with a
/// signal, microseconds per call) unless the environment already sets it, then restarts the pool, which OpenBLAS
/// started when it was loaded: `openblas_read_env` re-reads the environment, `blas_thread_shutdown_` joins the
/// workers, and OpenBLAS starts them again, with the new timeout, at its next threaded call. libopenblas
/// exports both without declaring them in cblas.h, so they are looked up by name; a build without them (serial,
/// or one that is not OpenBLAS) is left as it is. Call it before any other thread uses BLAS.
public enum OpenBLASIdleWorkers {
    /// The environment variable OpenBLAS reads: the log2 of the cycles an idle worker spins.
    public static let timeoutVariable = "OPENBLAS_THREAD_TIMEOUT"
    /// The exponent `sleepPromptly()` sets when the environment has none: OpenBLAS's minimum.
    public static let promptTimeout = 4

    /// Sets `OPENBLAS_THREAD_TIMEOUT=4` unless it is set, and restarts OpenBLAS's pool so the workers use the value
    /// in the environment. Returns that value (the user's if set), or nil when this OpenBLAS has no pool to restart.
    @discardableResult
    public static func sleepPromptly() -> String? {
        guard let readEnvironment = symbol("openblas_read_env", as: (@convention(c) () -> Void).self),
              let shutDownPool = symbol("blas_thread_shutdown_", as: (@convention(c) () -> Int32).self)
        else { return nil }
        setenv(timeoutVariable, String(promptTimeout), 0)
        readEnvironment()
        _ = shutDownPool()
        return getenv(timeoutVariable).map { String(cString: $0) }
    }

    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let process = dlopen(nil, RTLD_NOW), let address = dlsym(process, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }
}
