import Numerics

/// One pre-LN transformer block of CLIP, forward and backward side by side.
///
/// ```
/// a = LN1(x);  [q|k|v] = a Wqkv^T + bqkv;  o = MHA(q, k, v);  h = x + o Wo^T + bo
/// m = LN2(h);  f = m W1^T + b1;  g = act(f);  y = h + g W2^T + b2
/// x, a, o, h, m, y: (B, T, D)   qkv: (B, T, 3D)   probs: (B, H, T, T)   f, g: (B, T, F)
/// ```
/// The activations every backward needs are kept in `LayerActivations`; gradients of the weights are
/// accumulated (`+=`) only when a gradient view is given.
struct EncoderLayer {
    let config: CLIPEncoderConfig
    let causal: Bool

    /// The buffers one layer writes in its forward and reads in its backward, for (B, T) rows.
    struct Activations {
        var input, normed1, mean1, rstd1, qkv, probs, attention, residual, normed2, mean2, rstd2, hidden, activated: ArenaSlice
    }

    /// The inputs of the four linear layers, which the backward reads only for those layers' weight gradients
    /// (dW = dy^T x): a ∈ (B, T, D) of qkv, o (B, T, D) of the output projection, m (B, T, D) of fc1, g (B, T, F) of
    /// fc2. A tower whose weights get no gradient (prompt tuning) plans one set for all its layers; each layer's
    /// forward overwrites the last one's.
    struct WeightInputs {
        var normed1, attention, normed2, activated: ArenaSlice

        static func plan(_ plan: inout ArenaPlan, config: CLIPEncoderConfig, rows: Int) -> WeightInputs {
            let d = config.hiddenSize
            return WeightInputs(normed1: plan.reserve(rows * d), attention: plan.reserve(rows * d),
                                normed2: plan.reserve(rows * d), activated: plan.reserve(rows * config.intermediateSize))
        }
    }

    /// Scratch shared by all layers' backwards, sized for the largest (B, T); `dScores` holds one (T, T) block
    /// per attention worker (`Attention.scratchCount`).
    struct GradientScratch {
        var dResidual, dNormed, dAttention, dQKV, dHidden, dActivated: UnsafeMutablePointer<Float>
        var dScores: UnsafeMutableBufferPointer<Float>
    }

    /// One layer's buffers for (B, T) rows; with `shared`, the linear layers' inputs are those (at least as many
    /// rows) instead of the layer's own.
    static func plan(_ plan: inout ArenaPlan, config: CLIPEncoderConfig, rows: Int, batch: Int, tokens: Int,
                     shared: WeightInputs? = nil) -> Activations {
        let d = config.hiddenSize, f = config.intermediateSize
        let input = plan.reserve(rows * d)
        let own = shared ?? WeightInputs.plan(&plan, config: config, rows: rows)
        return Activations(
            input: input, normed1: own.normed1,
            mean1: plan.reserve(rows), rstd1: plan.reserve(rows),
            qkv: plan.reserve(rows * 3 * d), probs: plan.reserve(batch * config.attentionHeads * tokens * tokens),
            attention: own.attention, residual: plan.reserve(rows * d), normed2: own.normed2,
            mean2: plan.reserve(rows), rstd2: plan.reserve(rows),
            hidden: plan.reserve(rows * f), activated: own.activated)
    }

    /// y = block(x) for `batch` sequences of `tokens` rows; `x` is `arena[saved.input]`.
    func forward(_ arena: Arena, _ saved: Activations, weights w: EncoderLayerWeights,
                 output y: UnsafeMutablePointer<Float>, batch: Int, tokens: Int) {
        let d = config.hiddenSize, f = config.intermediateSize, rows = batch * tokens
        let x = arena[saved.input]
        let n = Double(rows), (dd, ff) = (Double(d), Double(f))
        KernelProfile.measure(.layerNorm) {
            LayerNorm.forward(y: arena[saved.normed1], mean: arena[saved.mean1], rstd: arena[saved.rstd1], x: x,
                              weight: w.layerNorm1Weight, bias: w.layerNorm1Bias, rows: rows, columns: d, eps: config.layerNormEps)
        }
        KernelProfile.measure(.gemm, flops: 2 * n * dd * 3 * dd) {
            Linear.forward(y: arena[saved.qkv], x: arena[saved.normed1], weight: w.qkvWeight, bias: w.qkvBias,
                           rows: rows, inFeatures: d, outFeatures: 3 * d)
        }
        Attention.forward(out: arena[saved.attention], probs: arena[saved.probs], qkv: arena[saved.qkv],
                          batch: batch, tokens: tokens, heads: config.attentionHeads, headSize: config.headSize, causal: causal)
        let h = arena[saved.residual]
        KernelProfile.measure(.gemm, flops: 2 * n * dd * dd) {
            Linear.forward(y: h, x: arena[saved.attention], weight: w.outWeight, bias: w.outBias, residual: x,
                           rows: rows, inFeatures: d, outFeatures: d)
        }
        KernelProfile.measure(.layerNorm) {
            LayerNorm.forward(y: arena[saved.normed2], mean: arena[saved.mean2], rstd: arena[saved.rstd2], x: h,
                              weight: w.layerNorm2Weight, bias: w.layerNorm2Bias, rows: rows, columns: d, eps: config.layerNormEps)
        }
        KernelProfile.measure(.gemm, flops: 2 * n * dd * ff) {
            Linear.forward(y: arena[saved.hidden], x: arena[saved.normed2], weight: w.fc1Weight, bias: w.fc1Bias,
                           rows: rows, inFeatures: d, outFeatures: f)
        }
        KernelProfile.measure(.activation) {
            config.activation.forward(arena[saved.activated], arena[saved.hidden], count: rows * f)
        }
        KernelProfile.measure(.gemm, flops: 2 * n * ff * dd) {
            Linear.forward(y: y, x: arena[saved.activated], weight: w.fc2Weight, bias: w.fc2Bias, residual: h,
                           rows: rows, inFeatures: f, outFeatures: d)
        }
    }

    /// Given dy, writes dx (overwritten, (B, T, D)) and accumulates weight gradients into `dw` if given (which needs
    /// the layer's own `WeightInputs`, not a shared set).
    func backward(_ arena: Arena, _ saved: Activations, weights w: EncoderLayerWeights, gradients dw: EncoderLayerWeights?,
                  scratch s: GradientScratch, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                  batch: Int, tokens: Int) {
        let d = config.hiddenSize, f = config.intermediateSize, rows = batch * tokens
        let n = Double(rows), (dd, ff) = (Double(d), Double(f))
        // In the forward pass this was: y = h + g W2^T + b2
        KernelProfile.measure(.gemm, flops: (dw == nil ? 2 : 4) * n * ff * dd) {
            Linear.backward(dx: s.dActivated, dWeight: dw?.fc2Weight, dBias: dw?.fc2Bias, dy: dy, x: arena[saved.activated],
                            weight: w.fc2Weight, rows: rows, inFeatures: f, outFeatures: d, dxWrite: .overwrite)
        }
        // g = act(f)
        KernelProfile.measure(.activation) {
            config.activation.backward(dx: s.dHidden, dy: s.dActivated, x: arena[saved.hidden], count: rows * f,
                                       write: .overwrite)
        }
        // f = m W1^T + b1
        KernelProfile.measure(.gemm, flops: (dw == nil ? 2 : 4) * n * dd * ff) {
            Linear.backward(dx: s.dNormed, dWeight: dw?.fc1Weight, dBias: dw?.fc1Bias, dy: s.dHidden, x: arena[saved.normed2],
                            weight: w.fc1Weight, rows: rows, inFeatures: d, outFeatures: f, dxWrite: .overwrite)
        }
        // m = LN2(h); dh = dy (through the residual) + LN2's backward
        KernelProfile.measure(.layerNorm) {
            LayerNorm.backward(dx: s.dResidual, dWeight: dw?.layerNorm2Weight, dBias: dw?.layerNorm2Bias, dy: s.dNormed,
                               x: arena[saved.residual], weight: w.layerNorm2Weight, mean: arena[saved.mean2],
                               rstd: arena[saved.rstd2], rows: rows, columns: d, skip: dy)
        }
        // h = x + o Wo^T + bo
        KernelProfile.measure(.gemm, flops: (dw == nil ? 2 : 4) * n * dd * dd) {
            Linear.backward(dx: s.dAttention, dWeight: dw?.outWeight, dBias: dw?.outBias, dy: s.dResidual,
                            x: arena[saved.attention], weight: w.outWeight, rows: rows, inFeatures: d, outFeatures: d,
                            dxWrite: .overwrite)
        }
        // o = MHA(q, k, v)
        Attention.backward(dqkv: s.dQKV, dout: s.dAttention, probs: arena[saved.probs], qkv: arena[saved.qkv],
                           scratch: s.dScores, batch: batch, tokens: tokens, heads: config.attentionHeads,
                           headSize: config.headSize, write: .overwrite)
        // [q|k|v] = a Wqkv^T + bqkv
        KernelProfile.measure(.gemm, flops: (dw == nil ? 2 : 4) * n * dd * 3 * dd) {
            Linear.backward(dx: s.dNormed, dWeight: dw?.qkvWeight, dBias: dw?.qkvBias, dy: s.dQKV, x: arena[saved.normed1],
                            weight: w.qkvWeight, rows: rows, inFeatures: d, outFeatures: 3 * d, dxWrite: .overwrite)
        }
        // a = LN1(x); dx = dh (through the residual) + LN1's backward
        KernelProfile.measure(.layerNorm) {
            LayerNorm.backward(dx: dx, dWeight: dw?.layerNorm1Weight, dBias: dw?.layerNorm1Bias, dy: s.dNormed,
                               x: arena[saved.input], weight: w.layerNorm1Weight, mean: arena[saved.mean1],
                               rstd: arena[saved.rstd1], rows: rows, columns: d, skip: s.dResidual)
        }
    }
}
