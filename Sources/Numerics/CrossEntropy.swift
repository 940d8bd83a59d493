import Foundation

/// Mean cross-entropy of logits against integer targets, as torch.nn.functional.cross_entropy.
///
/// ```
/// loss = -(1/N) sum_n log softmax(logits[n, :])[targets[n]]          logits: (N, C)   targets: (N)
/// ```
/// Rows may be strided (`rowStride`) and read transposed (`transposed`: logits[n, c] = x[c * stride + n]),
/// so the two directions of the contrastive loss share one matrix. `backward` accumulates (`+=`).
public enum CrossEntropy {
    /// Returns the mean loss; writes the row probabilities into `probabilities` (N, C) for the backward.
    public static func forward(probabilities: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                               targets: UnsafePointer<Int32>, rows: Int, columns: Int,
                               rowStride: Int? = nil, transposed: Bool = false) -> Float {
        let stride = rowStride ?? columns
        var total = 0.0
        for n in 0..<rows {
            let out = probabilities + n * columns
            for c in 0..<columns { out[c] = transposed ? logits[c * stride + n] : logits[n * stride + c] }
            var maximum = -Float.infinity
            for c in 0..<columns { maximum = max(maximum, out[c]) }
            var sum = 0.0
            for c in 0..<columns { sum += exp(Double(out[c] - maximum)) }
            total += Double(maximum) + log(sum) - Double(out[Int(targets[n])])
            Softmax.forward(p: out, x: out, rows: 1, columns: columns)
        }
        return Float(total / Double(rows))
    }

    /// In the forward pass this was `loss = mean_n -log p[n, t_n]`:
    /// `dlogits[n, c] += dloss * (p[n, c] - [c == t_n]) / N`.
    public static func backward(dLogits: UnsafeMutablePointer<Float>, probabilities: UnsafePointer<Float>,
                                targets: UnsafePointer<Int32>, rows: Int, columns: Int, dLoss: Float,
                                rowStride: Int? = nil, transposed: Bool = false) {
        let stride = rowStride ?? columns
        let scale = dLoss / Float(rows)
        for n in 0..<rows {
            let p = probabilities + n * columns
            for c in 0..<columns {
                let gradient = scale * (p[c] - (c == Int(targets[n]) ? 1 : 0))
                if transposed { dLogits[c * stride + n] += gradient } else { dLogits[n * stride + c] += gradient }
            }
        }
    }
}
