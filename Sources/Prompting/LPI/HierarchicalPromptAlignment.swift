import Foundation

/// LPI's Hierarchical Prompt Alignment (HPA): a contrastive loss between the layers of a task's visual and textual
/// prompts, the visual and the textual prompt of the same layer being the positive pair.
///
/// ```
/// PV (D, L, dv) visual prompts, PL (D, L, dl) textual prompts: D layers, L tokens each (L_v = L_l)
/// PV~[d][l] = 1/dv sum_c PV[d][l][c]            (D, L)                        eq. 4: AVG over the last dimension
/// PL~[d][l] = 1/dl sum_c PL[d][l][c]            (D, L)
/// MS        = (PV~ / tau)(PL~^T / tau)          (D, D)   MS[i][j]: layer i's visual against layer j's textual
/// row_i     = -log softmax_j(MS[i][:])[i] = logsumexp_j MS[i][j] - MS[i][i]
/// col_j     = -log softmax_i(MS[:][j])[j] = logsumexp_i MS[i][j] - MS[j][j]
/// .paper     L = 1/D sum_i row_i                                           eq. 5
/// .official  L = 1/2 (1/D sum_i row_i + 1/D sum_j col_j)
/// ```
/// LPI, section 4.2, eq. 4-5; tau = tau_modal, 0.01 in the official code; the total loss weighs it by
/// lambda_2 = 0.1 (eq. 12). Eq. 5 writes `-1/D sum_i sum_j y_ij log MS_ij` with y the identity; we read `log MS_ij`
/// as the log of row i's softmax (the cross-entropy the text names), over rows only.
///
/// `.official` is what the retrieval code does (Kelvin-ywc/LPI, retrieval/models/slinet.py, `SliNet.cal_loss`,
/// lines 144-158): the same PV~ and PL~ (means over the channels, then over the batch of identical expanded
/// copies), each divided by the temperature 0.01, `layer_score = PV~ @ PL~.T` (9 x 9), and `ClipLoss` on it: the
/// mean of the cross-entropy over rows and over columns, the symmetric InfoNCE of CLIP. (slinet.py imports
/// `ClipLoss` from loss/loss.py, which the repository lacks; retrieval/matrix/matrix.py defines it, lines 36-87.)
/// The grounding code (grounding/.../detector/generalized_vl_rcnn.py, `forward`) differs again: it L2-normalises
/// each layer's PV~ and PL~ rows and uses 100 x their cosines; that is not offered here.
///
/// Computed in Double. `loss` returns L (unweighted) and accumulates (`+=`) weight * dL/dPV and weight * dL/dPL:
/// ```
/// in the forward pass this was: L from MS = PV~ PL~^T / tau^2
/// G = dL/dMS (D, D)   .paper     G = (S_row - I) / D
///                     .official  G = ((S_row - I) + (S_col - I)) / (2D)
///   S_row[i][j] = softmax over j of MS[i][:],  S_col[i][j] = softmax over i of MS[:][j]
/// dPV~ = G PL~ / tau^2   (D, L)        dPL~ = G^T PV~ / tau^2   (D, L)
/// dPV[d][l][c] += weight dPV~[d][l] / dv         dPL[d][l][c] += weight dPL~[d][l] / dl
/// ```
/// The log-softmaxes subtract the row's (column's) maximum first: with tau = 0.01 the logits are 10^4 x the
/// products of the means.
public struct HierarchicalPromptAlignment: Sendable, Equatable {
    /// Which cross-entropy over the layer score matrix.
    public enum Variant: String, Codable, Sendable, CaseIterable {
        /// Eq. 5: cross-entropy over MS's rows (visual layer i against every textual layer), averaged over D.
        case paper
        /// The retrieval code's ClipLoss: the mean of the row and the column cross-entropies.
        case official
    }

    /// tau_modal: both PV~ and PL~ are divided by it, so the logits scale as 1/tau^2.
    public var temperature: Double
    public var variant: Variant

    public init(temperature: Double = 0.01, variant: Variant = .paper) {
        precondition(temperature > 0, "HPA temperature \(temperature)")
        self.temperature = temperature
        self.variant = variant
    }

    /// L_modal of prompts `visual` (layers, tokens, visualWidth) and `textual` (layers, tokens, textualWidth);
    /// adds weight * dL/dPV to `dVisual` and weight * dL/dPL to `dTextual` (`+=`; nil skips one).
    public func loss(
        visual: UnsafePointer<Float>, textual: UnsafePointer<Float>,
        layers: Int, tokens: Int, visualWidth: Int, textualWidth: Int,
        dVisual: UnsafeMutablePointer<Float>?, dTextual: UnsafeMutablePointer<Float>?, weight: Float = 1
    ) -> Float {
        precondition(layers > 0 && tokens > 0 && visualWidth > 0 && textualWidth > 0,
                     "HPA of (\(layers), \(tokens), \(visualWidth)) and (\(layers), \(tokens), \(textualWidth)) prompts")
        let d = layers
        let visualMeans = Self.channelMeans(visual, rows: d * tokens, width: visualWidth)    // (D, L)
        let textualMeans = Self.channelMeans(textual, rows: d * tokens, width: textualWidth)  // (D, L)
        let inverseSquare = 1 / (temperature * temperature)

        // MS (D, D) = PV~ PL~^T / tau^2
        var scores = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d {
                var sum = 0.0
                for l in 0..<tokens { sum += visualMeans[i * tokens + l] * textualMeans[j * tokens + l] }
                scores[i * d + j] = sum * inverseSquare
            }
        }

        // Row cross-entropies and S_row; column ones and S_col for .official.
        var gradient = [Double](repeating: 0, count: d * d)  // G = dL/dMS
        let (rowLoss, rowSoftmax) = Self.crossEntropy(scores, count: d, transposed: false)
        var loss: Double
        switch variant {
        case .paper:
            loss = rowLoss / Double(d)
            for i in 0..<d {
                for j in 0..<d { gradient[i * d + j] = (rowSoftmax[i * d + j] - (i == j ? 1 : 0)) / Double(d) }
            }
        case .official:
            let (columnLoss, columnSoftmax) = Self.crossEntropy(scores, count: d, transposed: true)
            loss = (rowLoss + columnLoss) / Double(2 * d)
            for i in 0..<d {
                for j in 0..<d {
                    let identity: Double = i == j ? 1 : 0
                    gradient[i * d + j] = ((rowSoftmax[i * d + j] - identity) + (columnSoftmax[i * d + j] - identity))
                        / Double(2 * d)
                }
            }
        }

        // dPV~ = G PL~ / tau^2, spread evenly over the dv channels each mean came from; dPL~ = G^T PV~ / tau^2.
        let scale = Double(weight) * inverseSquare
        if let dVisual {
            for i in 0..<d {
                for l in 0..<tokens {
                    var sum = 0.0
                    for j in 0..<d { sum += gradient[i * d + j] * textualMeans[j * tokens + l] }
                    let each = Float(scale * sum / Double(visualWidth))
                    let row = dVisual + (i * tokens + l) * visualWidth
                    for c in 0..<visualWidth { row[c] += each }
                }
            }
        }
        if let dTextual {
            for j in 0..<d {
                for l in 0..<tokens {
                    var sum = 0.0
                    for i in 0..<d { sum += gradient[i * d + j] * visualMeans[i * tokens + l] }
                    let each = Float(scale * sum / Double(textualWidth))
                    let row = dTextual + (j * tokens + l) * textualWidth
                    for c in 0..<textualWidth { row[c] += each }
                }
            }
        }
        return Float(loss)
    }

    /// Mean of each `width`-float row, in Double: (rows).
    static func channelMeans(_ values: UnsafePointer<Float>, rows: Int, width: Int) -> [Double] {
        (0..<rows).map { row in
            var sum = 0.0
            for c in 0..<width { sum += Double(values[row * width + c]) }
            return sum / Double(width)
        }
    }

    /// sum over rows (or columns, `transposed`) of -log softmax(line)[diagonal], and the softmaxes laid out like
    /// `scores` (row-major (count, count)); each line's maximum is subtracted before exponentiating.
    static func crossEntropy(_ scores: [Double], count n: Int, transposed: Bool) -> (loss: Double, softmax: [Double]) {
        var softmax = [Double](repeating: 0, count: n * n)
        var loss = 0.0
        for line in 0..<n {
            // element m of this line sits at index(m)
            let index: (Int) -> Int = transposed ? { m in m * n + line } : { m in line * n + m }
            var largest = -Double.infinity
            for m in 0..<n { largest = max(largest, scores[index(m)]) }
            var sum = 0.0
            for m in 0..<n { sum += exp(scores[index(m)] - largest) }
            let logSum = largest + log(sum)
            loss += logSum - scores[index(line)]
            for m in 0..<n { softmax[index(m)] = exp(scores[index(m)] - logSum) }
        }
        return (loss, softmax)
    }
}
