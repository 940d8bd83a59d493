import Dispatch
import XCTest
@testable import Numerics
import TestSupport

final class AttentionTests: XCTestCase {
    // Two sequences of 11 tokens (one eight-lane block and a tail), 3 heads of size 4: every index range is distinct.
    let batch = 2, tokens = 11, heads = 3, headSize = 4
    var width: Int { heads * headSize }

    func forward(_ backend: Gemm.Backend, qkv: [Float], causal: Bool) -> (out: [Float], probs: [Float]) {
        var out = [Float](repeating: .nan, count: batch * tokens * width)
        var probs = [Float](repeating: .nan, count: batch * heads * tokens * tokens)
        Attention.forward(backend, out: &out, probs: &probs, qkv: qkv,
                          batch: batch, tokens: tokens, heads: heads, headSize: headSize, causal: causal)
        return (out, probs)
    }

    func backward(_ backend: Gemm.Backend, dqkv: inout [Float], dout: [Float], probs: [Float], qkv: [Float],
                  write: GradientWrite = .accumulate) {
        var scratch = [Float](repeating: .nan, count: tokens * tokens)
        scratch.withUnsafeMutableBufferPointer { scratch in
            Attention.backward(backend, dqkv: &dqkv, dout: dout, probs: probs, qkv: qkv, scratch: scratch,
                               batch: batch, tokens: tokens, heads: heads, headSize: headSize, write: write)
        }
    }

    /// The definition written out element by element in Double: scores, mask, softmax, weighted sum.
    func reference(qkv: [Float], causal: Bool) -> (out: [Double], probs: [Double]) {
        var out = [Double](repeating: 0, count: batch * tokens * width)
        var probs = [Double](repeating: 0, count: batch * heads * tokens * tokens)
        let scale = 1 / Double(headSize).squareRoot()
        func q(_ b: Int, _ t: Int, _ h: Int, _ d: Int) -> Double { Double(qkv[(b * tokens + t) * 3 * width + h * headSize + d]) }
        func k(_ b: Int, _ t: Int, _ h: Int, _ d: Int) -> Double { Double(qkv[(b * tokens + t) * 3 * width + width + h * headSize + d]) }
        func v(_ b: Int, _ t: Int, _ h: Int, _ d: Int) -> Double { Double(qkv[(b * tokens + t) * 3 * width + 2 * width + h * headSize + d]) }
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<tokens {
                    var weights = [Double](repeating: 0, count: tokens)
                    for j in 0..<tokens where !(causal && j > i) {
                        var score = 0.0
                        for d in 0..<headSize { score += q(b, i, h, d) * k(b, j, h, d) }
                        weights[j] = exp(score * scale)
                    }
                    let sum = weights.reduce(0, +)
                    for j in 0..<tokens { probs[((b * heads + h) * tokens + i) * tokens + j] = weights[j] / sum }
                    for d in 0..<headSize {
                        var value = 0.0
                        for j in 0..<tokens { value += weights[j] / sum * v(b, j, h, d) }
                        out[(b * tokens + i) * width + h * headSize + d] = value
                    }
                }
            }
        }
        return (out, probs)
    }

    func testForwardMatchesDirectDoubleImplementation() {
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 1)
        for causal in [false, true] {
            let expected = reference(qkv: qkv, causal: causal)
            for backend in [Gemm.Backend.blas, .naive] {
                let (out, probs) = forward(backend, qkv: qkv, causal: causal)
                let outError = relativeError(out, expected.out.map(Float.init))
                let probsError = relativeError(probs, expected.probs.map(Float.init))
                XCTAssertLessThan(outError, 1e-5, "\(backend) causal \(causal): output off the Double reference by \(outError)")
                XCTAssertLessThan(probsError, 1e-5, "\(backend) causal \(causal): probs off the Double reference by \(probsError)")
            }
        }
    }

    /// Causal mask: future probabilities are exactly 0, and token 0 attends only to itself, so row 0
    /// of each head's output is v row 0 of that head, exactly (p = [1, 0, ...] and 1 * v + 0 * ... = v).
    func testCausalMask() {
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 2, std: 2)
        for backend in [Gemm.Backend.blas, .naive] {
            let (out, probs) = forward(backend, qkv: qkv, causal: true)
            for b in 0..<batch {
                for h in 0..<heads {
                    for i in 0..<tokens {
                        for j in (i + 1)..<max(tokens, i + 1) {
                            XCTAssertEqual(probs[((b * heads + h) * tokens + i) * tokens + j], 0,
                                           "\(backend) b \(b) h \(h): future position (\(i), \(j)) has probability")
                        }
                    }
                    for d in 0..<headSize {
                        let v0 = qkv[b * tokens * 3 * width + 2 * width + h * headSize + d]
                        XCTAssertEqual(out[b * tokens * width + h * headSize + d], v0,
                                       "\(backend) b \(b) h \(h) d \(d): causal row 0 is not v row 0")
                    }
                }
            }
        }
    }

    /// dqkv (q, k and v parts) against central differences of L = sum(out * R), with and without the
    /// causal mask, accumulated onto a non-zero buffer.
    func testBackwardMatchesFiniteDifferences() {
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 3)
        let r = randomNormal(batch * tokens * width, seed: 4)
        let dqkv0 = randomNormal(qkv.count, seed: 5)
        for causal in [false, true] {
            for backend in [Gemm.Backend.blas, .naive] {
                let (_, probs) = forward(backend, qkv: qkv, causal: causal)
                var dqkv = dqkv0
                backward(backend, dqkv: &dqkv, dout: r, probs: probs, qkv: qkv)
                let numerical = numericalGradient(qkv) { weightedSum(forward(backend, qkv: $0, causal: causal).out, r) }
                assertGradient("Attention dqkv \(backend) causal \(causal)", accumulated: dqkv, initial: dqkv0,
                               numerical: numerical, tolerance: 1e-3)
                // Each of q, k, v separately, so a small part cannot hide behind a large one.
                let analytic = added(dqkv, to: dqkv0)
                for (part, name) in ["q", "k", "v"].enumerated() {
                    var a: [Float] = [], n: [Double] = []
                    for row in 0..<(batch * tokens) {
                        for c in 0..<width {
                            let index = row * 3 * width + part * width + c
                            a.append(analytic[index]); n.append(numerical[index])
                        }
                    }
                    let error = gradientError(a, n)
                    XCTAssertLessThan(error, 2e-3, "\(backend) causal \(causal): d\(name) off central differences by \(error)")
                }
            }
        }
    }

    /// `write: .overwrite` gives what accumulating onto zeros gives, whatever dqkv held (NaN here): every entry of
    /// dQ, dK and dV is written, causal or not, on both backends.
    func testOverwriteIgnoresWhatDqkvHeld() {
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 12)
        let dout = randomNormal(batch * tokens * width, seed: 13)
        for causal in [false, true] {
            for backend in [Gemm.Backend.blas, .naive] {
                let (_, probs) = forward(backend, qkv: qkv, causal: causal)
                var accumulated = [Float](repeating: 0, count: qkv.count)
                backward(backend, dqkv: &accumulated, dout: dout, probs: probs, qkv: qkv)
                var overwritten = [Float](repeating: .nan, count: qkv.count)
                backward(backend, dqkv: &overwritten, dout: dout, probs: probs, qkv: qkv, write: .overwrite)
                XCTAssertEqual(overwritten, accumulated, "\(backend) causal \(causal): overwrite differs from accumulating onto zeros")
            }
        }
    }

    /// BLAS against the naive reference, forward and backward, causal or not, within 1e-5 relative.
    func testBlasMatchesNaive() {
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 6)
        let dout = randomNormal(batch * tokens * width, seed: 7)
        let dqkv0 = randomNormal(qkv.count, seed: 8)
        for causal in [false, true] {
            var results: [[[Float]]] = []
            for backend in [Gemm.Backend.blas, .naive] {
                let (out, probs) = forward(backend, qkv: qkv, causal: causal)
                var dqkv = dqkv0
                backward(backend, dqkv: &dqkv, dout: dout, probs: probs, qkv: qkv)
                results.append([out, probs, dqkv])
            }
            for (index, name) in ["out", "probs", "dqkv"].enumerated() {
                let error = relativeError(results[0][index], results[1][index])
                XCTAssertLessThan(error, 1e-5, "causal \(causal) \(name): BLAS off naive by \(error)")
            }
        }
    }

    /// Threads: the (b, h) pairs spread over 2 workers give bitwise the outputs of 1 thread, forward and backward,
    /// causal or not, BLAS and naive; with one scratch block the backward falls back to 1 worker; OpenBLAS's
    /// thread count is restored after the region. Sizes large enough that 2 threads do split the pairs.
    func testTwoThreadsMatchOneThreadBitwise() {
        let (batch, tokens, heads, headSize) = (3, 45, 4, 16)
        let width = heads * headSize, block = tokens * tokens
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 9)
        let dout = randomNormal(batch * tokens * width, seed: 10)
        let dqkv0 = randomNormal(qkv.count, seed: 11)
        func run(_ backend: Gemm.Backend, causal: Bool, threads: Int, scratchBlocks: Int) -> [[Float]] {
            ComputeThreads.set(threads)
            var out = [Float](repeating: .nan, count: batch * tokens * width)
            var probs = [Float](repeating: .nan, count: batch * heads * block)
            Attention.forward(backend, out: &out, probs: &probs, qkv: qkv,
                              batch: batch, tokens: tokens, heads: heads, headSize: headSize, causal: causal)
            var dqkv = dqkv0
            var scratch = [Float](repeating: .nan, count: Attention.scratchCount(tokens: tokens, workers: scratchBlocks))
            scratch.withUnsafeMutableBufferPointer { scratch in
                Attention.backward(backend, dqkv: &dqkv, dout: dout, probs: probs, qkv: qkv, scratch: scratch,
                                   batch: batch, tokens: tokens, heads: heads, headSize: headSize)
            }
            XCTAssertEqual(ComputeThreads.blasThreads, threads, "\(backend): OpenBLAS threads not restored after attention")
            return [out, probs, dqkv]
        }
        for backend in [Gemm.Backend.blas, .naive] {
            for causal in [false, true] {
                let one = run(backend, causal: causal, threads: 1, scratchBlocks: 1)
                XCTAssertEqual(Attention.workerCount(pairs: batch * heads, tokens: tokens, headSize: headSize,
                                                     scratchBlocks: 2), 1, "1 kernel thread: 1 worker")
                let two = run(backend, causal: causal, threads: 2, scratchBlocks: 2)
                XCTAssertEqual(Attention.workerCount(pairs: batch * heads, tokens: tokens, headSize: headSize,
                                                     scratchBlocks: 2), 2, "2 kernel threads: 2 workers")
                let twoOneBlock = run(backend, causal: causal, threads: 2, scratchBlocks: 1)
                for (index, name) in ["out", "probs", "dqkv"].enumerated() {
                    XCTAssertFalse(one[index].contains { !$0.isFinite }, "\(backend) causal \(causal) \(name): not finite")
                    let differing = zip(one[index], two[index]).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "\(backend) causal \(causal) \(name): \(differing) of \(one[index].count) "
                                   + "values differ between 1 and 2 threads (max relative error "
                                   + "\(relativeError(two[index], one[index])))")
                    XCTAssertEqual(one[index], twoOneBlock[index],
                                   "\(backend) causal \(causal) \(name): 2 threads with one scratch block differ from 1 thread")
                }
            }
        }
    }

    /// Under a profile, the threaded region counts attention's FLOPs exactly (4 T^2 dh per pair forward, 8 backward)
    /// and splits its wall time between attention and softmax: both get time, and together no more than the region.
    func testThreadedRegionProfilesAttentionAndSoftmax() {
        let (batch, tokens, heads, headSize) = (2, 64, 4, 16)
        let width = heads * headSize
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        ComputeThreads.set(2)
        let qkv = randomNormal(batch * tokens * 3 * width, seed: 12)
        var out = [Float](repeating: 0, count: batch * tokens * width)
        var probs = [Float](repeating: 0, count: batch * heads * tokens * tokens)
        var dqkv = [Float](repeating: 0, count: qkv.count)
        var scratch = [Float](repeating: 0, count: Attention.scratchCount(tokens: tokens, workers: 2))
        let profile = KernelProfile()
        KernelProfile.active = profile
        defer { KernelProfile.active = nil }
        let start = DispatchTime.now().uptimeNanoseconds
        Attention.forward(out: &out, probs: &probs, qkv: qkv,
                          batch: batch, tokens: tokens, heads: heads, headSize: headSize, causal: false)
        scratch.withUnsafeMutableBufferPointer { scratch in
            Attention.backward(dqkv: &dqkv, dout: out, probs: probs, qkv: qkv, scratch: scratch,
                               batch: batch, tokens: tokens, heads: heads, headSize: headSize)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let (attention, softmax) = (KernelProfile.Kind.attention.rawValue, KernelProfile.Kind.softmax.rawValue)
        let expectedFlops = Double(batch * heads) * 12 * Double(tokens * tokens * headSize)
        XCTAssertEqual(profile.flops[attention], expectedFlops, "attention FLOPs of forward and backward")
        XCTAssertEqual(profile.calls[attention], 2, "one attention entry per region: \(profile.calls)")
        XCTAssertEqual(profile.calls[softmax], 2, "one softmax entry per region: \(profile.calls)")
        XCTAssertGreaterThan(profile.seconds[attention], 0, "attention got no time")
        XCTAssertGreaterThan(profile.seconds[softmax], 0, "softmax got no time")
        XCTAssertLessThanOrEqual(profile.seconds[attention] + profile.seconds[softmax], elapsed,
                                 "the kinds' time exceeds the regions' wall time")
    }
}
