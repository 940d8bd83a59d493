import Foundation
import XCTest
import Numerics

final class OpenBLASIdleWorkersTests: XCTestCase {
    /// CPU time the whole process uses while the calling thread sleeps 0.1 s right after a 2-thread sgemm: what
    /// OpenBLAS's idle worker burns spinning.
    func idleCPUAfterThreadedSgemm() -> Double {
        let n = 256
        let a = [Float](repeating: 1, count: n * n), b = [Float](repeating: 1, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        Gemm.multiply(transposeA: false, transposeB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n,
                      beta: 0, c: &c, ldc: n)
        XCTAssertEqual(c[0], Float(n), "sgemm of ones")
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        let start = cpuSeconds()
        usleep(100_000)
        return cpuSeconds() - start
    }

    /// OpenBLAS's default keeps a worker spinning through the 0.1 s (checked when the environment leaves the
    /// default); after `sleepPromptly()` the restarted pool sleeps at once with OPENBLAS_THREAD_TIMEOUT=4, and a
    /// value the user set is kept and takes effect the same way.
    func testRestartedPoolSleepsInsteadOfSpinning() throws {
        guard ProcessInfo.processInfo.activeProcessorCount >= 2 else {
            throw XCTSkip("OpenBLAS starts no worker pool on 1 core")
        }
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        ComputeThreads.set(2)
        let variable = OpenBLASIdleWorkers.timeoutVariable
        if getenv(variable) == nil {
            let spinning = idleCPUAfterThreadedSgemm()
            XCTAssertGreaterThan(spinning, 0.03, "OpenBLAS's default pool used only \(spinning) s of CPU while idle")
        }
        unsetenv(variable)
        XCTAssertEqual(OpenBLASIdleWorkers.sleepPromptly(), "4", "the timeout set when the environment has none")
        ComputeThreads.set(2)
        let prompt = idleCPUAfterThreadedSgemm()
        XCTAssertLessThan(prompt, 0.01, "with \(variable)=4 the idle pool still used \(prompt) s of CPU")

        setenv(variable, "5", 1)
        XCTAssertEqual(OpenBLASIdleWorkers.sleepPromptly(), "5", "a value in the environment is kept")
        ComputeThreads.set(2)
        let user = idleCPUAfterThreadedSgemm()
        XCTAssertLessThan(user, 0.01, "with \(variable)=5 the idle pool still used \(user) s of CPU")
    }
}
