import Foundation
import Numerics

/// One branch of DCP's Cross-Modal Prompt Attention (CMPA): the next prompts of one tower ("own", n tokens of
/// width D, H heads) from its prompts X and the other tower's X_o (n tokens of width E). The vision branch has
/// (D, E) = (D_v, D_t), the text branch (D_t, D_v); a CMPA module is the two, both reading the same pair.
///
/// ```
/// a   = X_o W_p^T + b_p                                            (n, D)   the other tower's prompts, projected
/// Q   = LN_1(a) W_q^T + b_q     K = LN_1(X) W_k^T + b_k     V = LN_1(X) W_v^T + b_v          one LN_1 for all three
/// A   = [softmax(Q_h K_h^T / sqrt(d_h)) V_h]_h W_o^T + b_o          (n, D)   H heads of d_h = D / H, no mask
/// R   = X + A
/// Y   = R + QuickGELU(LN_2(R) W_fc^T + b_fc) W_pr^T + b_pr          (n, D)   MLP of width 4D
/// ```
/// As the official code's `PromptAttention.forward` (GingL/CMPA, clip/model.py): the query comes from the other
/// tower, keys and values from this one, so the output has this tower's rows and the residual adds X; this is
/// torch's `nn.MultiheadAttention(D, H)` between CLIP-style pre-LN residual blocks (LN eps 1e-5).
///
/// `forward` writes Y (`=`) and keeps a `PromptAttentionRecord`; `backward` accumulates (`+=`) into dX, dX_o and
/// every tensor's gradient, so that the two branches can add into the same prompt gradients and a CMPA shared by
/// all layers can add every layer's share. Each kernel takes a `Gemm.Backend`: `.naive` runs the three-loop
/// GEMM reference throughout (the tests hold `.blas` against it).
public struct PromptAttentionBranch: Sendable {
    /// n: prompt tokens (rows of X, X_o and Y).
    public let tokens: Int
    /// D: this tower's width.
    public let width: Int
    /// E: the other tower's width.
    public let otherWidth: Int
    /// H: attention heads; divides D.
    public let heads: Int
    /// The LayerNorms' epsilon.
    public let eps: Float

    public init(tokens: Int, width: Int, otherWidth: Int, heads: Int, eps: Float = 1e-5) {
        precondition(tokens > 0 && width > 0 && otherWidth > 0, "prompt attention of \(tokens) x \(width) from \(otherWidth)")
        precondition(heads > 0 && width % heads == 0, "\(heads) heads do not divide the width \(width)")
        self.tokens = tokens
        self.width = width
        self.otherWidth = otherWidth
        self.heads = heads
        self.eps = eps
    }

    /// d_h = D / H.
    public var headSize: Int { width / heads }
    /// Floats of one `PromptAttentionRecord`.
    public var recordCount: Int { PromptAttentionRecord.count(tokens: tokens, width: width, heads: heads) }
    /// Floats of the scratch `backward` takes: 17 n D + n^2.
    public var workspaceCount: Int { 17 * tokens * width + tokens * tokens }

    /// Fills the branch's tensors as torch initialises the official code's modules: Linear layers (projection,
    /// MLP) U(-1/sqrt(in), 1/sqrt(in)) for weight and bias; `nn.MultiheadAttention`'s in_proj Xavier-uniform over
    /// the (3D, D) matrix, U(-sqrt(6 / 4D), sqrt(6 / 4D)), out_proj U(-1/sqrt(D), 1/sqrt(D)), both biases 0;
    /// LayerNorms weight 1, bias 0.
    public func initialize(_ t: PromptAttentionTensors, generator: inout SplitMix64) {
        let d = width, e = otherWidth
        func linear(_ weight: UnsafeMutablePointer<Float>, _ bias: UnsafeMutablePointer<Float>?, out: Int, in inputs: Int) {
            let bound = 1 / Float(inputs).squareRoot()
            generator.fillUniform(weight, count: out * inputs, low: -bound, high: bound)
            if let bias { generator.fillUniform(bias, count: out, low: -bound, high: bound) }
        }
        linear(t.projectionWeight, t.projectionBias, out: d, in: e)
        let xavier = (6 / Float(4 * d)).squareRoot()
        generator.fillUniform(t.inProjectionWeight, count: 3 * d * d, low: -xavier, high: xavier)
        t.inProjectionBias.update(repeating: 0, count: 3 * d)
        linear(t.outProjectionWeight, nil, out: d, in: d)
        t.outProjectionBias.update(repeating: 0, count: d)
        linear(t.fcWeight, t.fcBias, out: 4 * d, in: d)
        linear(t.mlpProjectionWeight, t.mlpProjectionBias, out: d, in: 4 * d)
        for (weight, bias) in [(t.norm1Weight, t.norm1Bias), (t.norm2Weight, t.norm2Bias)] {
            weight.update(repeating: 1, count: d)
            bias.update(repeating: 0, count: d)
        }
    }

    // MARK: Forward

    /// Y = branch(X, X_o) into `y` (n, D), keeping what the backward needs in `record`.
    public func forward(
        _ backend: Gemm.Backend = .blas, weights w: PromptAttentionTensors,
        own x: UnsafePointer<Float>, other: UnsafePointer<Float>,
        record r: PromptAttentionRecord, into y: UnsafeMutablePointer<Float>
    ) {
        let n = tokens, d = width
        // a = X_o W_p^T + b_p;  LN_1(a);  LN_1(X)
        Linear.forward(backend, y: r.projected, x: other, weight: w.projectionWeight, bias: w.projectionBias,
                       rows: n, inFeatures: otherWidth, outFeatures: d)
        LayerNorm.forward(y: r.queryInput, mean: r.queryMean, rstd: r.queryRstd, x: r.projected,
                          weight: w.norm1Weight, bias: w.norm1Bias, rows: n, columns: d, eps: eps)
        LayerNorm.forward(y: r.keyInput, mean: r.keyMean, rstd: r.keyRstd, x: x,
                          weight: w.norm1Weight, bias: w.norm1Bias, rows: n, columns: d, eps: eps)
        // qkv rows [q | k | v]: q from LN_1(a) with W_q (rows 0..<D), k and v from LN_1(X) with W_k; W_v (rows D..<3D)
        for row in 0..<n { (r.qkv + row * 3 * d).update(from: w.inProjectionBias, count: 3 * d) }
        Gemm.multiply(backend, transposeA: false, transposeB: true, m: n, n: d, k: d,
                      a: r.queryInput, lda: d, b: w.inProjectionWeight, ldb: d, beta: 1, c: r.qkv, ldc: 3 * d)
        Gemm.multiply(backend, transposeA: false, transposeB: true, m: n, n: 2 * d, k: d,
                      a: r.keyInput, lda: d, b: w.inProjectionWeight + d * d, ldb: d, beta: 1, c: r.qkv + d, ldc: 3 * d)
        Attention.forward(backend, out: r.attended, probs: r.probabilities, qkv: r.qkv,
                          batch: 1, tokens: n, heads: heads, headSize: headSize, causal: false)
        // R = X + A W_o^T + b_o
        Linear.forward(backend, y: r.residual, x: r.attended, weight: w.outProjectionWeight, bias: w.outProjectionBias,
                       rows: n, inFeatures: d, outFeatures: d)
        for i in 0..<(n * d) { r.residual[i] += x[i] }
        // Y = R + QuickGELU(LN_2(R) W_fc^T + b_fc) W_pr^T + b_pr
        LayerNorm.forward(y: r.normalized, mean: r.normalizedMean, rstd: r.normalizedRstd, x: r.residual,
                          weight: w.norm2Weight, bias: w.norm2Bias, rows: n, columns: d, eps: eps)
        Linear.forward(backend, y: r.hidden, x: r.normalized, weight: w.fcWeight, bias: w.fcBias,
                       rows: n, inFeatures: d, outFeatures: 4 * d)
        Activation.quickGELU.forward(r.activated, r.hidden, count: 4 * n * d)
        Linear.forward(backend, y: y, x: r.activated, weight: w.mlpProjectionWeight, bias: w.mlpProjectionBias,
                       rows: n, inFeatures: 4 * d, outFeatures: d)
        for i in 0..<(n * d) { y[i] += r.residual[i] }
    }

    // MARK: Backward

    /// Given dY, adds dX to `dOwn`, dX_o to `dOther` and every tensor's gradient to `gradients` (`+=`), with
    /// `workspace` (`workspaceCount` floats) as scratch. In the forward pass this was, line by line:
    /// ```
    /// Y = R + M W_pr^T + b_pr, M = QuickGELU(F):   dR = dY;  dM = dY W_pr;  dW_pr += dY^T M;  db_pr += sum dY
    /// F = LN_2(R) W_fc^T + b_fc:                   dF = dM * QuickGELU'(F);  dN = dF W_fc;  dW_fc, db_fc
    /// N = LN_2(R):                                 dR += LN_2'(dN);  dw_2, db_2
    /// R = X + A W_o^T + b_o:                       dX += dR;  dA = dR W_o;  dW_o += dR^T A;  db_o
    /// A = attention(qkv):                          dqkv = Attention.backward(dA)
    /// q = LN_1(a) W_q^T + b_q:                     dLN_1(a) = dq W_q;  dW_q += dq^T LN_1(a);  db_q += sum dq
    /// [k|v] = LN_1(X) [W_k;W_v]^T + b:             dLN_1(X) = d[k|v] [W_k;W_v];  dW_k, dW_v, db_k, db_v
    /// LN_1 of X and of a:                          dX += LN_1'(dLN_1(X));  da = LN_1'(dLN_1(a));  dw_1, db_1 from both
    /// a = X_o W_p^T + b_p:                         dX_o += da W_p;  dW_p += da^T X_o;  db_p += sum da
    /// ```
    public func backward(
        _ backend: Gemm.Backend = .blas, weights w: PromptAttentionTensors, gradients g: PromptAttentionTensors,
        own x: UnsafePointer<Float>, other: UnsafePointer<Float>, record r: PromptAttentionRecord,
        dOutput dy: UnsafePointer<Float>, dOwn: UnsafeMutablePointer<Float>, dOther: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>
    ) {
        let n = tokens, d = width
        workspace.update(repeating: 0, count: workspaceCount)
        var next = workspace
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        let dResidual = take(n * d), dActivated = take(4 * n * d), dHidden = take(4 * n * d)
        let dNormalized = take(n * d), dAttended = take(n * d), dqkv = take(3 * n * d)
        let dQueryInput = take(n * d), dKeyInput = take(n * d), dProjected = take(n * d), scores = take(n * n)

        // MLP and its residual
        dResidual.update(from: dy, count: n * d)
        Linear.backward(backend, dx: dActivated, dWeight: g.mlpProjectionWeight, dBias: g.mlpProjectionBias, dy: dy,
                        x: r.activated, weight: w.mlpProjectionWeight, rows: n, inFeatures: 4 * d, outFeatures: d)
        Activation.quickGELU.backward(dx: dHidden, dy: dActivated, x: r.hidden, count: 4 * n * d)
        Linear.backward(backend, dx: dNormalized, dWeight: g.fcWeight, dBias: g.fcBias, dy: dHidden,
                        x: r.normalized, weight: w.fcWeight, rows: n, inFeatures: d, outFeatures: 4 * d)
        LayerNorm.backward(dx: dResidual, dWeight: g.norm2Weight, dBias: g.norm2Bias, dy: dNormalized, x: r.residual,
                           weight: w.norm2Weight, mean: r.normalizedMean, rstd: r.normalizedRstd, rows: n, columns: d)
        // attention and its residual
        for i in 0..<(n * d) { dOwn[i] += dResidual[i] }
        Linear.backward(backend, dx: dAttended, dWeight: g.outProjectionWeight, dBias: g.outProjectionBias, dy: dResidual,
                        x: r.attended, weight: w.outProjectionWeight, rows: n, inFeatures: d, outFeatures: d)
        Attention.backward(backend, dqkv: dqkv, dout: dAttended, probs: r.probabilities, qkv: r.qkv,
                           scratch: UnsafeMutableBufferPointer(start: scores, count: n * n),
                           batch: 1, tokens: n, heads: heads, headSize: headSize)
        // q from LN_1(a): W_q is rows 0..<D of in_proj
        Gemm.multiply(backend, transposeA: false, transposeB: false, m: n, n: d, k: d,
                      a: dqkv, lda: 3 * d, b: w.inProjectionWeight, ldb: d, beta: 1, c: dQueryInput, ldc: d)
        Gemm.multiply(backend, transposeA: true, transposeB: false, m: d, n: d, k: n,
                      a: dqkv, lda: 3 * d, b: r.queryInput, ldb: d, beta: 1, c: g.inProjectionWeight, ldc: d)
        // k and v from LN_1(X): W_k; W_v are rows D..<3D
        Gemm.multiply(backend, transposeA: false, transposeB: false, m: n, n: d, k: 2 * d,
                      a: dqkv + d, lda: 3 * d, b: w.inProjectionWeight + d * d, ldb: d, beta: 1, c: dKeyInput, ldc: d)
        Gemm.multiply(backend, transposeA: true, transposeB: false, m: 2 * d, n: d, k: n,
                      a: dqkv + d, lda: 3 * d, b: r.keyInput, ldb: d, beta: 1, c: g.inProjectionWeight + d * d, ldc: d)
        for row in 0..<n {
            let source = dqkv + row * 3 * d
            for c in 0..<(3 * d) { g.inProjectionBias[c] += source[c] }
        }
        // the shared LN_1, on X and on a
        LayerNorm.backward(dx: dOwn, dWeight: g.norm1Weight, dBias: g.norm1Bias, dy: dKeyInput, x: x,
                           weight: w.norm1Weight, mean: r.keyMean, rstd: r.keyRstd, rows: n, columns: d)
        LayerNorm.backward(dx: dProjected, dWeight: g.norm1Weight, dBias: g.norm1Bias, dy: dQueryInput, x: r.projected,
                           weight: w.norm1Weight, mean: r.queryMean, rstd: r.queryRstd, rows: n, columns: d)
        Linear.backward(backend, dx: dOther, dWeight: g.projectionWeight, dBias: g.projectionBias, dy: dProjected,
                        x: other, weight: w.projectionWeight, rows: n, inFeatures: otherWidth, outFeatures: d)
    }
}
