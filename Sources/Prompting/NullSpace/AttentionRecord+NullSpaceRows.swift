import CLIP

extension VisionTower.AttentionRecord {
    /// Q_h: head h's queries of the image tokens (CLS and patches, not the prompts), bias included, before the
    /// 1/sqrt(d_h) scale; (batch x image tokens, d_h) row-major, rows by sample then token.
    public func imageQueries(head h: Int) -> (values: [Float], rows: Int) {
        precondition((0..<heads).contains(h), "head \(h) of \(heads)")
        let imageRows = self.imageRows
        let rowCount = batch * imageRows.count
        var block = [Float](repeating: 0, count: rowCount * headSize)
        block.withUnsafeMutableBufferPointer { out in
            var row = 0
            for b in 0..<batch {
                for token in imageRows {
                    (out.baseAddress! + row * headSize).update(from: qkv + (b * tokens + token) * 3 * width + h * headSize,
                                                               count: headSize)
                    row += 1
                }
            }
        }
        return (block, rowCount)
    }

    /// [S_P,1 ; ... ; S_P,H]: every head's post-softmax attention of the image-token queries on the L prompt
    /// keys; (batch x heads x image tokens, L) row-major, rows by sample, head, then token.
    public func promptAttention() -> (values: [Float], rows: Int) {
        let imageRows = self.imageRows, l = promptRows.count
        let rowCount = batch * heads * imageRows.count
        var block = [Float](repeating: 0, count: rowCount * l)
        block.withUnsafeMutableBufferPointer { out in
            var row = 0
            for b in 0..<batch {
                for h in 0..<heads {
                    for token in imageRows {
                        let attention = probabilities + ((b * heads + h) * tokens + token) * tokens + promptRows.lowerBound
                        (out.baseAddress! + row * l).update(from: attention, count: l)
                        row += 1
                    }
                }
            }
        }
        return (block, rowCount)
    }
}
