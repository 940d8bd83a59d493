/// The prompt pool of L2P (Wang et al., "Learning to Prompt for Continual Learning", CVPR 2022): M prompts of
/// `length` tokens, each with a learned key; every sample picks the k prompts whose keys are most similar to its
/// frozen image feature and prepends their concatenation to its tokens.
///
/// ```
/// values  P (M, length, D)   the pool's prompts                          official: pool 10, length 5, D 768
/// keys    K (M, d)           one key per prompt                          official: d = D (the [CLS] feature)
/// queries Q (n, d)           the frozen model's features of the batch    not necessarily normalised
///
/// S = norm(Q) norm(K)^T                                    (n, M)        +PromptPool+KeyMatching.swift
/// idx[b] = top-k of S[b], descending                       (n, k)        per sample, not a batch vote
/// block[b] = [P[idx[b][0]] ; P[idx[b][1]] ; ... ]          (n, k*length, D)   gather / scatterGradients
/// L_pull = c / N sum_b sum_j (1 - S[b][idx[b][j]])                       +PromptPool+PullConstraint.swift
/// ```
/// Kernels only, independent of the trainer: the block goes to the vision tower as
/// `PromptValues(block, batchStride: blockTokens * width)`, and the tower's per-sample gradient, written through
/// `PromptGradient(blockGradient, batchStride: blockTokens * width)`, comes back to the pool by `scatterGradients`.
public struct PromptPool: Sendable, Equatable {
    /// M: prompts (and keys) in the pool.
    public let size: Int
    /// Tokens per prompt.
    public let length: Int
    /// D: the width of a prompt token (the tower's hidden size).
    public let width: Int
    /// d: the width of a key and of a query.
    public let keyWidth: Int
    /// k: prompts selected per sample.
    public let topK: Int

    public init(size: Int, length: Int, width: Int, keyWidth: Int, topK: Int) {
        precondition(size > 0 && length > 0 && width > 0 && keyWidth > 0, "empty pool shape")
        precondition(topK > 0 && topK <= size, "top-k \(topK) out of 1...\(size)")
        self.size = size
        self.length = length
        self.width = width
        self.keyWidth = keyWidth
        self.topK = topK
    }

    /// k * length: the prompt tokens each sample receives.
    public var blockTokens: Int { topK * length }

    /// Floats in the pool's values: M * length * D.
    public var valueCount: Int { size * length * width }

    /// Floats in the pool's keys: M * d.
    public var keyCount: Int { size * keyWidth }

    // MARK: - Gather (forward) and scatter-add (backward)

    /// Copies each sample's selected prompts into its block, in selection order (`=`).
    /// ```
    /// values (M, length, D)  ->  block (n, k*length, D)
    /// block[b][j*length + t][:] = values[idx[b][j]][t][:]        j < k, t < length
    /// ```
    /// As `torch.gather` then `reshape(B, top_k * length, C)` in l2p-pytorch (prompt.py, lines 83-86).
    public func gather(values: UnsafePointer<Float>, selection: PromptPoolSelection, into block: UnsafeMutablePointer<Float>) {
        precondition(selection.topK == topK, "selection of top-\(selection.topK) for a top-\(topK) pool")
        let prompt = length * width
        for b in 0..<selection.count {
            for (j, entry) in selection.indices(of: b).enumerated() {
                precondition(entry >= 0 && entry < size, "prompt index \(entry) out of 0..<\(size)")
                (block + (b * topK + j) * prompt).update(from: values + entry * prompt, count: prompt)
            }
        }
    }

    /// The adjoint of `gather`: adds (`+=`) each sample's block gradient to the prompts it came from.
    /// ```
    /// in the forward pass this was: block[b][j*length + t] = values[idx[b][j]][t]
    /// dvalues[idx[b][j]][t][:] += dblock[b][j*length + t][:]      dblock (n, k*length, D), dvalues (M, length, D)
    /// ```
    /// A prompt chosen by several samples (or twice by one) receives the sum of their gradients.
    public func scatterGradients(_ blockGradients: UnsafePointer<Float>, selection: PromptPoolSelection,
                                 into valueGradients: UnsafeMutablePointer<Float>) {
        precondition(selection.topK == topK, "selection of top-\(selection.topK) for a top-\(topK) pool")
        let prompt = length * width
        for b in 0..<selection.count {
            for (j, entry) in selection.indices(of: b).enumerated() {
                precondition(entry >= 0 && entry < size, "prompt index \(entry) out of 0..<\(size)")
                let source = blockGradients + (b * topK + j) * prompt
                let destination = valueGradients + entry * prompt
                for i in 0..<prompt { destination[i] += source[i] }
            }
        }
    }
}
