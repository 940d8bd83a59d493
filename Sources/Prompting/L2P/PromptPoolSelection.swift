/// Which prompts of an L2P pool each sample of a batch uses: the result of `PromptPool.select`.
///
/// ```
/// indices       (n, k)  row b: the pool entries sample b selected, by descending cosine similarity
///                       (ties to the lower index); the prompt block of sample b concatenates them in this order
/// similarities  (n, k)  s[b][j] = cos(q_b, key_{indices[b][j]}), the similarities the indices were ranked by
/// ```
/// The selection is per sample, as `torch.topk(similarity, k, dim=1)` in l2p-pytorch's `Prompt.forward`
/// (prompt.py, line 67); the option `batchwise_prompt` there, which replaces every row by the batch's k most
/// frequent entries, is a majority vote over the test batch (google-research/l2p #28) and has no counterpart here.
public struct PromptPoolSelection: Sendable, Equatable {
    /// n: the samples.
    public let count: Int
    /// k: the prompts per sample.
    public let topK: Int
    /// (n, k), row-major.
    public let indices: [Int]
    /// (n, k), row-major, aligned with `indices`.
    public let similarities: [Float]

    /// A selection from explicit indices (and their similarities), e.g. a fixed task-specific choice.
    public init(count: Int, topK: Int, indices: [Int], similarities: [Float]) {
        precondition(indices.count == count * topK, "indices: \(indices.count) for (\(count), \(topK))")
        precondition(similarities.count == count * topK, "similarities: \(similarities.count) for (\(count), \(topK))")
        self.count = count
        self.topK = topK
        self.indices = indices
        self.similarities = similarities
    }

    /// Row b of `indices`: the pool entries sample b uses, in block order.
    public func indices(of sample: Int) -> ArraySlice<Int> {
        indices[(sample * topK)..<((sample + 1) * topK)]
    }

    /// The official code's `reduce_sim`, with the batch size replaced by `normalizer`:
    /// ```
    /// reduce_sim = (sum_b sum_j s[b][j]) / normalizer          (prompt.py, lines 99-101: normalizer = n)
    /// ```
    /// Logged, not differentiated: `PromptPool.pullLoss` gives the loss and its gradient.
    public func reducedSimilarity(normalizer: Int) -> Double {
        similarities.reduce(0.0) { $0 + Double($1) } / Double(normalizer)
    }
}
