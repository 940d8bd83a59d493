extension VisionTower {
    /// What one encoder layer's attention saw in the last forward: the statistics NSP2 collects.
    ///
    /// ```
    /// qkv:           (B, T, 3D)     row (b, t) = [q | k | v] of token t of sample b, biases included,
    ///                               q before the 1/sqrt(d_h) scale; head h's q at columns h*d_h ..< (h+1)*d_h
    /// probabilities: (B, H, T, T)   post-softmax attention, query rows, key columns
    /// promptRows:    the rows of the layer's prompt tokens (the others are the image tokens: CLS and patches)
    /// ```
    /// Valid until the next forward.
    public struct AttentionRecord {
        public let qkv: UnsafePointer<Float>
        public let probabilities: UnsafePointer<Float>
        public let batch: Int
        public let tokens: Int
        public let heads: Int
        public let headSize: Int
        public let promptRows: Range<Int>

        public var width: Int { heads * headSize }
        /// The image tokens' rows, in order (every row that is not a prompt).
        public var imageRows: [Int] { (0..<tokens).filter { !promptRows.contains($0) } }
    }

    /// Layer `layer`'s record of the last forward of `batch` images (a tower built for training only).
    public func attentionRecord(layer: Int, batch: Int) -> AttentionRecord {
        requireTraining("the attention record of layer \(layer)")
        precondition((0..<config.encoder.layers).contains(layer) && batch <= capacity,
                     "attention record of layer \(layer), batch \(batch)")
        let saved = encoder.activations(layer: layer)
        let prompts = encoder.counts[layer]
        return AttentionRecord(qkv: arena[saved.qkv], probabilities: arena[saved.probs], batch: batch,
                               tokens: config.tokenCount + prompts, heads: config.encoder.attentionHeads,
                               headSize: config.encoder.headSize,
                               promptRows: encoder.promptStart ..< encoder.promptStart + prompts)
    }
}
