import COpenBLAS
import Dispatch
import Synchronization

/// Multi-head scaled dot-product attention on a packed q|k|v activation (the output of one fused
/// projection), with an optional causal mask. Prompt tokens are ordinary rows of the sequence.
///
/// ```
/// qkv: (B, T, 3D) rows [q | k | v], head h uses columns h*dh ..< (h+1)*dh of each part
/// S[b, h] = scale * Q[b, h] K[b, h]^T      (T, T), scale = 1/sqrt(dh); causal: S[i, j] = -inf for j > i
/// P[b, h] = softmax(S[b, h])               probs: (B, H, T, T), kept for the backward
/// O[b, :, h*dh ..< (h+1)*dh] = P[b, h] V[b, h]    out: (B, T, D)
/// ```
/// Heads are addressed in place through leading dimensions (no transposes or copies).
/// `backward` accumulates into `dqkv` (`+=`), or overwrites it with `write: .overwrite`.
///
/// Threads: the B*H pairs (b, h) are independent (each writes its own probs block and its own columns of
/// `out` or `dqkv`), so with `ComputeThreads.kernelThreads` > 1 they are handed out one at a time to that many
/// workers (`DispatchQueue.concurrentPerform`), and each worker runs a pair's GEMMs and its softmax (or dS)
/// rows back to back, while the (T, T) block is in cache. The GEMMs are small (T x T x dh, about 200 x 200 x 64
/// for ViT-B/16): OpenBLAS splitting each over its own threads ran them at about half the sgemm rate. So for
/// the parallel region OpenBLAS is set to 1 thread (`openblas_set_num_threads(1)`) and restored after. This
/// is what OpenBLAS's FAQ asks of an application that is multi-threaded itself: Debian's pthread build
/// serialises concurrent multi-threaded calls on its one thread pool, while with 1 thread `sgemm` runs in the
/// calling thread and only takes a buffer from its locked pool (two per build thread: 128 with MAX_THREADS=64).
/// The count is process-wide: nothing else may call BLAS while attention runs (a rank computes on one thread).
/// Every pair is computed by one worker with the same single-threaded kernels at any thread count, so results
/// are bitwise the same with 1 thread and with N.
///
/// Under a `KernelProfile`, workers time their GEMMs and their softmax on their own clocks, and the region's
/// wall time is split between `.attention` and `.softmax` in the ratio of those sums (the profile itself is
/// only touched by the calling thread).
public enum Attention {
    /// Floats of the dP scratch `backward` needs to run on up to `workers` threads: one (T, T) block each.
    public static func scratchCount(tokens: Int, workers: Int) -> Int { max(1, workers) * tokens * tokens }

    public static func forward(
        _ backend: Gemm.Backend = .blas,
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        batch: Int, tokens: Int, heads: Int, headSize: Int, causal: Bool
    ) {
        let width = heads * headSize
        let scale = 1 / Float(headSize).squareRoot()
        let pairs = batch * heads
        let workers = workerCount(pairs: pairs, tokens: tokens, headSize: headSize, scratchBlocks: pairs)
        let flops = 2 * Double(tokens * tokens * headSize)  // of one of the two products, one head
        forEachPair(backend, pairs: pairs, workers: workers, flops: 2 * flops) { pair, _, clock in
            let b = pair / heads, h = pair % heads
            let base = qkv + b * tokens * 3 * width
            let q = base + h * headSize
            let k = base + width + h * headSize
            let v = base + 2 * width + h * headSize
            let p = probs + pair * tokens * tokens
            clock.measure(.attention) {
                Gemm.multiply(backend, transposeA: false, transposeB: true, m: tokens, n: tokens, k: headSize,
                              alpha: scale, a: q, lda: 3 * width, b: k, ldb: 3 * width, beta: 0, c: p, ldc: tokens)
            }
            clock.measure(.softmax) {
                if causal { maskFuture(p, tokens: tokens) }
                Softmax.forward(p: p, x: p, rows: tokens, columns: tokens)
            }
            clock.measure(.attention) {
                Gemm.multiply(backend, transposeA: false, transposeB: false, m: tokens, n: headSize, k: tokens,
                              a: p, lda: tokens, b: v, ldb: 3 * width,
                              beta: 0, c: out + b * tokens * width + h * headSize, ldc: width)
            }
        }
    }

    /// In the forward pass this was `O = softmax(scale Q K^T) V`. With a (T, T) block of `scratch` for dP:
    /// ```
    /// dV += P^T dO;   dP = dO V^T;   dS = P * (dP - rowsum(dP * P))
    /// dQ += scale dS K;   dK += scale dS^T Q
    /// ```
    /// Masked entries have P = 0, so they get dS = 0 without a second mask. Each pair writes its own columns of
    /// dQ, dK and dV once, so `write: .overwrite` (=, not +=) only sets the GEMMs' beta to 0.
    /// `scratch` holds at least one (T, T) block; with `scratchCount(tokens:workers:)` floats it runs on up to
    /// `workers` threads (fewer blocks than `ComputeThreads.kernelThreads` means fewer workers, never overlap).
    public static func backward(
        _ backend: Gemm.Backend = .blas,
        dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, scratch: UnsafeMutableBufferPointer<Float>,
        batch: Int, tokens: Int, heads: Int, headSize: Int, write: GradientWrite = .accumulate
    ) {
        let block = tokens * tokens
        let beta: Float = write == .accumulate ? 1 : 0
        precondition(scratch.count >= block && scratch.baseAddress != nil,
                     "Attention.backward: scratch of \(scratch.count) floats holds no (T, T) block for T = \(tokens)")
        let width = heads * headSize
        let scale = 1 / Float(headSize).squareRoot()
        let pairs = batch * heads
        let workers = workerCount(pairs: pairs, tokens: tokens, headSize: headSize,
                                  scratchBlocks: block == 0 ? 1 : scratch.count / block)
        let flops = 2 * Double(tokens * tokens * headSize)  // of one product, one head
        let blocks = scratch.baseAddress!
        forEachPair(backend, pairs: pairs, workers: workers, flops: 4 * flops) { pair, worker, clock in
            let b = pair / heads, h = pair % heads
            let base = qkv + b * tokens * 3 * width
            let dbase = dqkv + b * tokens * 3 * width
            let q = base + h * headSize, k = base + width + h * headSize, v = base + 2 * width + h * headSize
            let dq = dbase + h * headSize, dk = dbase + width + h * headSize
            let dv = dbase + 2 * width + h * headSize
            let p = probs + pair * block
            let dO = dout + b * tokens * width + h * headSize
            let dP = blocks + worker * block
            clock.measure(.attention) {
                // dV += P^T dO
                Gemm.multiply(backend, transposeA: true, transposeB: false, m: tokens, n: headSize, k: tokens,
                              a: p, lda: tokens, b: dO, ldb: width, beta: beta, c: dv, ldc: 3 * width)
                // dP = dO V^T
                Gemm.multiply(backend, transposeA: false, transposeB: true, m: tokens, n: tokens, k: headSize,
                              a: dO, lda: width, b: v, ldb: 3 * width, beta: 0, c: dP, ldc: tokens)
            }
            clock.measure(.softmax) {
                // dS = P * (dP - rowsum(dP * P)), in place in the worker's block
                Softmax.backward(dx: dP, dp: dP, p: p, rows: tokens, columns: tokens, write: .overwrite)
            }
            clock.measure(.attention) {
                // dQ += scale dS K;  dK += scale dS^T Q
                Gemm.multiply(backend, transposeA: false, transposeB: false, m: tokens, n: headSize, k: tokens,
                              alpha: scale, a: dP, lda: tokens, b: k, ldb: 3 * width, beta: beta, c: dq, ldc: 3 * width)
                Gemm.multiply(backend, transposeA: true, transposeB: false, m: tokens, n: headSize, k: tokens,
                              alpha: scale, a: dP, lda: tokens, b: q, ldb: 3 * width, beta: beta, c: dk, ldc: 3 * width)
            }
        }
    }

    /// Sets S[i, j] = -infinity for j > i in a (T, T) score block.
    static func maskFuture(_ scores: UnsafeMutablePointer<Float>, tokens: Int) {
        for i in 0..<tokens {
            for j in (i + 1)..<tokens { scores[i * tokens + j] = -.infinity }
        }
    }

    /// Workers for `pairs` (b, h) pairs: `ComputeThreads.kernelThreads`, at most one per pair and per scratch
    /// block, and 1 when all the pairs' products together (pairs T^2 dh multiply-adds) are too small to pay
    /// for waking threads.
    static func workerCount(pairs: Int, tokens: Int, headSize: Int, scratchBlocks: Int) -> Int {
        let workers = min(ComputeThreads.kernelThreads, pairs, scratchBlocks)
        return workers > 1 && pairs * tokens * tokens * headSize >= 1 << 18 ? workers : 1
    }

    /// Runs `body(pair, worker, &clock)` for every pair in 0..<pairs: in order on the calling thread when
    /// `workers` is 1, else on `workers` threads taking the next pair as they finish one (OpenBLAS at 1 thread
    /// meanwhile). `worker` (0..<workers) names the thread's scratch block. Then, under an active profile, the
    /// region's wall time goes to `.attention` (with `flops` per pair) and `.softmax` as the clocks divide it.
    private static func forEachPair(
        _ backend: Gemm.Backend, pairs: Int, workers: Int, flops: Double,
        _ body: (_ pair: Int, _ worker: Int, _ clock: inout PairClock) -> Void
    ) {
        let profile = KernelProfile.active
        let start = DispatchTime.now().uptimeNanoseconds
        var total = PairClock(running: profile != nil)
        if workers <= 1 {
            for pair in 0..<pairs { body(pair, 0, &total) }
        } else {
            let blasThreads = openblas_get_num_threads()
            if backend == .blas { openblas_set_num_threads(1) }
            defer { if backend == .blas { openblas_set_num_threads(blasThreads) } }
            let next = Atomic<Int>(0)
            withUnsafeTemporaryAllocation(of: PairClock.self, capacity: workers) { clocks in
                clocks.initialize(repeating: PairClock(running: profile != nil))
                withoutActuallyEscaping(body) { body in
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        var clock = PairClock(running: profile != nil)
                        while true {
                            let pair = next.wrappingAdd(1, ordering: .relaxed).oldValue
                            guard pair < pairs else { break }
                            body(pair, worker, &clock)
                        }
                        clocks[worker] = clock
                    }
                }
                for clock in clocks { total.add(clock) }
            }
        }
        guard let profile else { return }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let busy = total.attention + total.softmax
        let attentionShare = busy > 0 ? total.attention / busy : 1
        profile.add(.attention, seconds: wall * attentionShare, flops: Double(pairs) * flops)
        profile.add(.softmax, seconds: wall * (1 - attentionShare))
    }

    /// One worker's time in attention's GEMMs and in its softmax rows; it reads the clock only when
    /// `running` (a profile is active).
    struct PairClock {
        enum Part { case attention, softmax }

        let running: Bool
        var attention = 0.0, softmax = 0.0

        init(running: Bool) { self.running = running }

        @inline(__always)
        mutating func measure(_ part: Part, _ body: () -> Void) {
            guard running else { return body() }
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            switch part {
            case .attention: attention += seconds
            case .softmax: softmax += seconds
            }
        }

        mutating func add(_ other: PairClock) {
            attention += other.attention
            softmax += other.softmax
        }
    }
}
