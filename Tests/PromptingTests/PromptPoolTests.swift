import XCTest
import CLIP
import Numerics
import Prompting
import TestSupport

/// The L2P prompt pool's kernels against l2p-pytorch's Prompt.forward (Tests/Fixtures/l2p/l2p.safetensors, written
/// by Tests/Fixtures/make_l2p_fixtures.py), against the naive similarity, finite differences and the gather's adjoint.
final class PromptPoolTests: XCTestCase {
    /// The fixture's shapes: n 6, M 10, d 16, length 5, D 12, top-k 5, coefficient 0.1.
    private let pool = PromptPool(size: 10, length: 5, width: 12, keyWidth: 16, topK: 5)
    private let count = 6
    private let coefficient = 0.1

    private func fixture() throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: fixtureURL("l2p/l2p.safetensors"))
    }

    // MARK: - Against the official forward

    func testSimilaritiesSelectionAndBlockMatchTheOfficialForward() throws {
        let file = try fixture()
        let queries = try file.floats("queries"), keys = try file.floats("keys"), values = try file.floats("values")
        let similarities = pool.similarities(queries: queries, keys: keys, count: count)
        let similarityError = relativeError(similarities, try file.floats("similarity"))
        print("l2p fixture: similarity relative error \(similarityError)")
        XCTAssertLessThan(similarityError, 1e-5, "similarity matrix off the official by \(similarityError)")

        let selection = pool.select(queries: queries, keys: keys, count: count)
        let expectedIndices = try file.int64s("indices").map { Int($0) }
        XCTAssertEqual(selection.indices, expectedIndices, "top-k indices (and their order) differ from torch.topk's")
        let selectedError = relativeError(selection.similarities, try file.floats("selected"))
        print("l2p fixture: selected similarities relative error \(selectedError)")
        XCTAssertLessThan(selectedError, 1e-5, "selected similarities off by \(selectedError)")

        var block = [Float](repeating: .nan, count: count * pool.blockTokens * pool.width)
        pool.gather(values: values, selection: selection, into: &block)
        let blockError = relativeError(block, try file.floats("block"))
        print("l2p fixture: gathered block relative error \(blockError)")
        XCTAssertEqual(blockError, 0, "the gathered block is a copy of pool rows: it must be exact, off by \(blockError)")

        let reduceSim = Double(try file.floats("reduce_sim")[0])
        let reduced = selection.reducedSimilarity(normalizer: count)
        print("l2p fixture: reduce_sim \(reduced) against \(reduceSim)")
        XCTAssertEqual(reduced, reduceSim, accuracy: 1e-5 * abs(reduceSim), "reduce_sim \(reduced) against \(reduceSim)")

        // Our loss is c (k - reduce_sim) when N = n; the objective adds sum(block * R).
        let pull = pool.pullLoss(queries: queries, keys: keys, selection: selection, coefficient: coefficient,
                                 normalizer: count)
        let objective = weightedSum(block, try file.floats("weights")) + pull - coefficient * Double(pool.topK)
        let expectedObjective = Double(try file.floats("objective")[0])
        print("l2p fixture: objective \(objective) against \(expectedObjective)")
        XCTAssertEqual(pull, coefficient * (Double(pool.topK) - reduceSim), accuracy: 1e-6,
                       "L_pull must be c (k - reduce_sim) with N = n")
        XCTAssertEqual(objective, expectedObjective, accuracy: 1e-5 * abs(expectedObjective),
                       "objective \(objective) against \(expectedObjective)")
    }

    func testGradientsMatchTheOfficialAutograd() throws {
        let file = try fixture()
        let queries = try file.floats("queries"), keys = try file.floats("keys")
        let selection = pool.select(queries: queries, keys: keys, count: count)
        // Non-zero starting buffers: a backward that writes instead of adding fails. Their scale is the
        // gradients' (|dK| ~ 5e-3), or the Float rounding of (initial + g) - initial would be the error measured.
        let initialValues = randomNormal(pool.valueCount, seed: 11)
        let initialKeys = randomNormal(pool.keyCount, seed: 12, std: 1e-3)

        var valueGradients = initialValues
        pool.scatterGradients(try file.floats("weights"), selection: selection, into: &valueGradients)
        let valueError = relativeError(added(valueGradients, to: initialValues), try file.floats("grad_values"))
        print("l2p fixture: pool gradient relative error \(valueError)")
        XCTAssertLessThan(valueError, 1e-5, "pool gradient off the official autograd by \(valueError)")

        var keyGradients = initialKeys
        _ = pool.pullLoss(queries: queries, keys: keys, selection: selection, coefficient: coefficient,
                          normalizer: count, keyGradients: &keyGradients)
        let expectedKeys = try file.floats("grad_keys")
        let keyError = relativeError(added(keyGradients, to: initialKeys), expectedKeys)
        print("l2p fixture: key gradient relative error \(keyError) (max |g| \(expectedKeys.map(abs).max()!))")
        XCTAssertLessThan(keyError, 1e-5, "key gradient off the official autograd by \(keyError)")
    }

    func testSelectionIsNotTheBatchwiseVote() throws {
        let file = try fixture()
        let selection = pool.select(queries: try file.floats("queries"), keys: try file.floats("keys"), count: count)
        let vote = try file.int64s("batchwise_indices").map { Int($0) }
        let rows = Set((0..<count).map { Array(selection.indices(of: $0)) })
        XCTAssertGreaterThan(rows.count, 1, "every sample selected the same prompts: the fixture cannot tell")
        XCTAssertNotEqual(selection.indices, vote, "selection equals the batch's majority vote")
    }

    // MARK: - Kernels

    func testBlasSimilaritiesMatchNaive() {
        let pool = PromptPool(size: 17, length: 2, width: 3, keyWidth: 40, topK: 4)
        let n = 33
        var queries = randomNormal(n * 40, seed: 1, std: 5)
        for c in 0..<40 { queries[7 * 40 + c] = 0 }   // a zero query: eps keeps it finite (all similarities 0)
        let keys = randomNormal(17 * 40, seed: 2)
        let fast = pool.similarities(queries: queries, keys: keys, count: n, backend: .blas)
        let naive = pool.similarities(queries: queries, keys: keys, count: n, backend: .naive)
        let error = relativeError(fast, naive)
        print("l2p similarity: sgemm against naive, relative error \(error)")
        XCTAssertLessThan(error, 1e-6, "sgemm similarities off the naive reference by \(error)")
        XCTAssertEqual(Array(naive[(7 * 17)..<(8 * 17)]), [Float](repeating: 0, count: 17), "zero query")
        XCTAssertLessThanOrEqual(naive.map(abs).max()!, 1 + 1e-6, "cosines within [-1, 1]")
    }

    func testSelectionIsPerSample() {
        // Orthonormal keys e_0 ... e_9; sample 0 leans on keys 0-4 (most on 3), sample 1 on keys 5-9 (most on 8).
        let pool = PromptPool(size: 10, length: 2, width: 3, keyWidth: 10, topK: 5)
        var keys = [Float](repeating: 0, count: 100)
        for m in 0..<10 { keys[m * 10 + m] = 1 }
        var queries = [Float](repeating: 0, count: 20)
        for (c, w) in [(3, 5), (0, 4), (4, 3), (1, 2), (2, 1)] as [(Int, Float)] { queries[c] = w }
        for (c, w) in [(8, 5), (6, 4), (9, 3), (5, 2), (7, 1)] as [(Int, Float)] { queries[10 + c] = w }
        let selection = pool.select(queries: queries, keys: keys, count: 2)
        XCTAssertEqual(Array(selection.indices(of: 0)), [3, 0, 4, 1, 2], "sample 0: its own nearest keys, descending")
        XCTAssertEqual(Array(selection.indices(of: 1)), [8, 6, 9, 5, 7], "sample 1: its own nearest keys, descending")

        let values = (0..<pool.valueCount).map { Float($0) }
        var block = [Float](repeating: .nan, count: 2 * pool.blockTokens * pool.width)
        pool.gather(values: values, selection: selection, into: &block)
        let prompt = pool.length * pool.width
        for b in 0..<2 {
            for (j, m) in selection.indices(of: b).enumerated() {
                let start = (b * pool.topK + j) * prompt
                XCTAssertEqual(Array(block[start..<(start + prompt)]), Array(values[(m * prompt)..<((m + 1) * prompt)]),
                               "sample \(b), slot \(j): prompt \(m)")
            }
        }
    }

    func testTiesGoToTheLowerIndex() {
        let pool = PromptPool(size: 4, length: 1, width: 1, keyWidth: 2, topK: 3)
        // Keys 1 and 3 equal (and nearest), key 0 next, key 2 opposite.
        let keys: [Float] = [1, 0.5, 1, 1, -1, -1, 2, 2]
        let selection = pool.select(queries: [1, 1], keys: keys, count: 1)
        XCTAssertEqual(selection.indices, [1, 3, 0], "equal similarities keep index order")
        let nan = pool.select(similarities: [0.5, .nan, 0.9, 0.9], count: 1)
        XCTAssertEqual(nan.indices, [1, 2, 3], "NaN ranks first (as torch.topk), then ties by index")
    }

    func testScatterIsTheAdjointOfGather() {
        let pool = PromptPool(size: 7, length: 3, width: 5, keyWidth: 4, topK: 3)
        let n = 4
        // Prompt 2 chosen by three samples, prompt 5 twice by sample 3: the scatter must sum them.
        let indices = [2, 0, 5, 6, 2, 1, 2, 4, 3, 5, 5, 2]
        let selection = PromptPoolSelection(count: n, topK: 3, indices: indices,
                                            similarities: [Float](repeating: 0, count: indices.count))
        let x = randomNormal(pool.valueCount, seed: 21)
        let y = randomNormal(n * pool.blockTokens * pool.width, seed: 22)
        var gathered = [Float](repeating: 0, count: y.count)
        pool.gather(values: x, selection: selection, into: &gathered)
        let initial = randomNormal(pool.valueCount, seed: 23)
        var scattered = initial
        pool.scatterGradients(y, selection: selection, into: &scattered)
        let left = weightedSum(gathered, y)
        let right = weightedSum(x, added(scattered, to: initial))
        let error = abs(left - right) / abs(left)
        print("l2p gather/scatter adjoint: <gather(x), y> \(left), <x, scatter(y)> \(right), relative \(error)")
        XCTAssertLessThan(error, 1e-6, "scatter is not the adjoint of gather: \(left) against \(right)")
        let prompt0 = Array(added(scattered, to: initial)[0..<15]), slot = Array(y[15..<30])
        XCTAssertLessThan(relativeError(prompt0, slot), 1e-6, "prompt 0, chosen once (sample 0, slot 1), gets that slot's gradient")
    }

    func testPullGradientMatchesFiniteDifferences() {
        let pool = PromptPool(size: 6, length: 1, width: 1, keyWidth: 8, topK: 3)
        let n = 5
        let queries = randomNormal(n * 8, seed: 31, std: 2)
        var keys = randomNormal(6 * 8, seed: 32)
        for c in 0..<8 { keys[4 * 8 + c] *= 0.05 }   // a short key: the 1 / ||k|| factor matters
        let selection = pool.select(queries: queries, keys: keys, count: n)
        let normalizer = 3 * n   // as one rank of three
        let initial = randomNormal(keys.count, seed: 33, std: 1e-2)
        var gradients = initial
        _ = pool.pullLoss(queries: queries, keys: keys, selection: selection, coefficient: 0.1, normalizer: normalizer,
                          keyGradients: &gradients)
        // The selection stays fixed under the perturbation, as in autograd (top-k is piecewise constant). The
        // error left (~3e-5) is the central difference's h^2 term on the short key (h / ||k_4|| ~ 1%).
        let numerical = numericalGradient(keys, step: 1e-3) { perturbed in
            pool.pullLoss(queries: queries, keys: perturbed, selection: selection, coefficient: 0.1, normalizer: normalizer)
        }
        assertGradient("l2p pull constraint (keys)", accumulated: gradients, initial: initial, numerical: numerical,
                       tolerance: 1e-4)
        let unselected = Set(0..<6).subtracting(selection.indices)
        for m in unselected {
            XCTAssertEqual(Array(gradients[(m * 8)..<((m + 1) * 8)]), Array(initial[(m * 8)..<((m + 1) * 8)]),
                           "key \(m) was selected by no sample: no gradient")
        }
    }

    func testPullLossScalesWithTheNormalizer() {
        let pool = PromptPool(size: 6, length: 1, width: 1, keyWidth: 8, topK: 2)
        let queries = randomNormal(4 * 8, seed: 41), keys = randomNormal(6 * 8, seed: 42)
        let selection = pool.select(queries: queries, keys: keys, count: 4)
        // Two ranks with two rows each and N = 4 add up to the whole batch's loss.
        let whole = pool.pullLoss(queries: queries, keys: keys, selection: selection, coefficient: 0.1, normalizer: 4)
        var halves = 0.0
        for rank in 0..<2 {
            let rows = Array(queries[(rank * 16)..<((rank + 1) * 16)])
            let local = pool.select(queries: rows, keys: keys, count: 2)
            halves += pool.pullLoss(queries: rows, keys: keys, selection: local, coefficient: 0.1, normalizer: 4)
        }
        XCTAssertEqual(halves, whole, accuracy: 1e-12, "ranks' losses with the global normalizer must sum to the batch's")
        let expected = 0.1 * (Double(4 * 2) - selection.similarities.reduce(0.0) { $0 + Double($1) }) / 4
        XCTAssertEqual(whole, expected, accuracy: 1e-6, "L_pull = c / N sum (1 - s)")
    }
}
