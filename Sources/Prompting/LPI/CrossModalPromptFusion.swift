import CLIP
import Numerics

/// LPI's Cross-modal Prompt Fusion (CPF): before each prompted layer but the first, the prompt rows of each tower
/// are mixed with a linear map of the other tower's, planned once for `capacity` samples and `fusedLayers` layers.
///
/// ```
/// I_v (L, d_v): the vision prompt rows before layer l,  I_l (L, d_l): the text prompt rows, l = 1 ..< D
///               (the rows X_l holds after the site at l has added P_l: eq. 1's I = P + E)
/// VIS_f(x)  = x W^vis_f  + b^vis_f        p^vis  (D-1, d_l + 1, d_v): rows 0 ..< d_l W^vis_f, row d_l b^vis_f
/// TEXT_f(x) = x W^text_f + b^text_f       p^text (D-1, d_v + 1, d_l): rows 0 ..< d_v W^text_f, row d_v b^text_f
/// M_v = lambda I_v + (1 - lambda) VIS_f(I_l)        M_l = lambda I_l + (1 - lambda) TEXT_f(I_v)       f = l - 1
/// .none       I~_v = M_v,  I~_l = M_l                                                        (eq. 6, the default)
/// .layerNorm  I~_v = LN_v(M_v),  I~_l = LN_l(M_l)     (LN over the width, learnable, shared by the layers)
/// X_l's prompt rows <- I~  (both read the unfused I of the other tower)
/// ```
/// LPI, section 4.3, eq. 6: lambda_v = lambda_l = 0.9 (section 5.1.4), fusion at the D - 1 prompted layers after the
/// first; p^vis and p^text are each CP-decomposed with rank 4, D1 (D-1, r), D2 (d_in + 1, r), D3 (d_out, r), composed
/// by `CPComposition` (the mean over the rank) into the tensors `Maps` points at (`visionMapShape`, `textMapShape`).
/// The official code has CPF only in the grounding code (Kelvin-ywc/LPI, grounding/maskrcnn_benchmark/modeling/bert/
/// modeling_bert.py, `InteractModule`, one per task; applied in `BertEncoder.forward` after the prompts are added):
/// the same CP-composed maps with the bias as the last row, lambda 0.9, and `LayerNorm(0.9 old + 0.1 new)` with one
/// learnable `nn.LayerNorm` per modality and task for all layers (`norm_flag = True`): `.layerNorm`, an option. The
/// paper's equation has no LayerNorm: `.none`, the default.
///
/// `forward(layer:)` replaces the rows in place and keeps I (and M, mean, rstd for `.layerNorm`) for `backward(layer:)`,
/// which replaces dI~ by dI in the gradient rows and accumulates (`+=`) the maps' gradients:
/// ```
/// in the forward pass this was: I~ = M (or LN(M)),  M_v = lambda I_v + (1 - lambda)(I_l W^vis + b^vis), M_l likewise
/// dM   = dI~  (or LN's backward: dM, and dgamma, dbeta +=)
/// dI_v = lambda dM_v + (1 - lambda) dM_l (W^text)^T        dI_l = lambda dM_l + (1 - lambda) dM_v (W^vis)^T
/// dW^vis  += (1 - lambda) I_l^T dM_v    db^vis  += (1 - lambda) sum_rows dM_v
/// dW^text += (1 - lambda) I_v^T dM_l    db^text += (1 - lambda) sum_rows dM_l
/// ```
/// Samples may use different maps (at inference each sample takes its predicted task's): `maps[b]` for sample b;
/// consecutive samples with the same maps share one GEMM. `backend` picks BLAS or the naive GEMM (the reference).
public final class CrossModalPromptFusion {
    /// Whether the mix is normalised.
    public enum Normalization: String, Codable, Sendable, CaseIterable {
        /// Eq. 6 as written: I~ = M.
        case none
        /// The grounding code's `LayerNorm(M)`, with a learnable LayerNorm per modality.
        case layerNorm = "layer_norm"
    }

    /// One task's composed maps: the whole (D-1)-layer tensors; `forward(layer: f)` reads layer f of them.
    public struct Maps: Equatable {
        /// p^vis (D-1, d_l + 1, d_v).
        public let vision: UnsafePointer<Float>
        /// p^text (D-1, d_v + 1, d_l).
        public let text: UnsafePointer<Float>
        /// LN_v's weight and bias (d_v) and LN_l's (d_l), for `.layerNorm`; nil otherwise.
        public let visionNorm: LayerNormWeights?
        public let textNorm: LayerNormWeights?

        public init(vision: UnsafePointer<Float>, text: UnsafePointer<Float>,
                    visionNorm: LayerNormWeights? = nil, textNorm: LayerNormWeights? = nil) {
            self.vision = vision
            self.text = text
            self.visionNorm = visionNorm
            self.textNorm = textNorm
        }
    }

    /// Where one task's map gradients accumulate (`+=`), shaped as `Maps`.
    public struct MapGradients: Equatable {
        public let vision: UnsafeMutablePointer<Float>
        public let text: UnsafeMutablePointer<Float>
        public let visionNorm: LayerNormGradients?
        public let textNorm: LayerNormGradients?

        public init(vision: UnsafeMutablePointer<Float>, text: UnsafeMutablePointer<Float>,
                    visionNorm: LayerNormGradients? = nil, textNorm: LayerNormGradients? = nil) {
            self.vision = vision
            self.text = text
            self.visionNorm = visionNorm
            self.textNorm = textNorm
        }
    }

    public struct LayerNormWeights: Equatable {
        public let weight: UnsafePointer<Float>
        public let bias: UnsafePointer<Float>
        public init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>) {
            self.weight = weight
            self.bias = bias
        }
    }

    public struct LayerNormGradients: Equatable {
        public let weight: UnsafeMutablePointer<Float>
        public let bias: UnsafeMutablePointer<Float>
        public init(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
            self.weight = weight
            self.bias = bias
        }
    }

    public let visionWidth: Int
    public let textWidth: Int
    /// L: prompt rows per sample in each tower.
    public let tokens: Int
    /// D - 1: the layers fused (f = 0 fuses before prompted layer 1).
    public let fusedLayers: Int
    /// lambda: the weight of a tower's own rows.
    public let momentum: Float
    public let normalization: Normalization
    /// LN's epsilon (torch's default).
    public let eps: Float = 1e-5
    public let capacity: Int
    private let arena: Arena
    /// Per fused layer: I_v, I_l (and M_v, M_l, their means and rstds for `.layerNorm`), (capacity * L, width).
    private let inputs: [(visual: ArenaSlice, textual: ArenaSlice)]
    private let mixed: [(visual: ArenaSlice, textual: ArenaSlice)]
    private let statistics: [(visualMean: ArenaSlice, visualRstd: ArenaSlice, textualMean: ArenaSlice, textualRstd: ArenaSlice)]
    /// Shared by the layers: the rows written back (forward) and dI~, dM, dI (backward).
    private let visualA, visualB, visualC, textualA, textualB, textualC: ArenaSlice

    public init(visionWidth: Int, textWidth: Int, tokens: Int, fusedLayers: Int, momentum: Float,
                normalization: Normalization, capacity: Int) {
        precondition(visionWidth > 0 && textWidth > 0 && tokens > 0 && fusedLayers > 0 && capacity > 0,
                     "CPF of \(fusedLayers) layers, \(tokens) tokens, widths \(visionWidth) and \(textWidth), \(capacity) samples")
        precondition(momentum.isFinite && momentum >= 0 && momentum <= 1, "CPF momentum \(momentum) outside [0, 1]")
        self.visionWidth = visionWidth
        self.textWidth = textWidth
        self.tokens = tokens
        self.fusedLayers = fusedLayers
        self.momentum = momentum
        self.normalization = normalization
        self.capacity = capacity
        let rows = capacity * tokens
        let normed = normalization == .layerNorm
        var plan = ArenaPlan()
        inputs = (0..<fusedLayers).map { _ in (plan.reserve(rows * visionWidth), plan.reserve(rows * textWidth)) }
        mixed = (0..<fusedLayers).map { _ in
            (plan.reserve(normed ? rows * visionWidth : 0), plan.reserve(normed ? rows * textWidth : 0))
        }
        statistics = (0..<fusedLayers).map { _ in
            (plan.reserve(normed ? rows : 0), plan.reserve(normed ? rows : 0), plan.reserve(normed ? rows : 0),
             plan.reserve(normed ? rows : 0))
        }
        (visualA, visualB, visualC) = (plan.reserve(rows * visionWidth), plan.reserve(rows * visionWidth), plan.reserve(rows * visionWidth))
        (textualA, textualB, textualC) = (plan.reserve(rows * textWidth), plan.reserve(rows * textWidth), plan.reserve(rows * textWidth))
        arena = Arena(plan)
    }

    /// Bytes of saved rows and workspace held.
    public var workspaceBytes: Int { arena.byteCount }

    /// p^vis's CP shape: (D-1, d_l + 1, d_v) of rank r.
    public static func visionMapShape(fusedLayers: Int, visionWidth: Int, textWidth: Int, rank: Int) -> CPComposition.Shape {
        CPComposition.Shape(i: fusedLayers, j: textWidth + 1, k: visionWidth, rank: rank)
    }

    /// p^text's CP shape: (D-1, d_v + 1, d_l) of rank r.
    public static func textMapShape(fusedLayers: Int, visionWidth: Int, textWidth: Int, rank: Int) -> CPComposition.Shape {
        CPComposition.Shape(i: fusedLayers, j: visionWidth + 1, k: textWidth, rank: rank)
    }

    // MARK: Forward

    /// Fuses the prompt rows before prompted layer f + 1 in place: `visual` (B, L, d_v) and `textual` (B, L, d_l)
    /// become I~_v and I~_l; `maps[b]` are sample b's maps (B entries).
    public func forward(layer f: Int, visual: PromptRows, textual: PromptRows, maps: [Maps], backend: Gemm.Backend = .blas) {
        check(layer: f, visual: visual, textual: textual, count: maps.count)
        let (dv, dl, n) = (visionWidth, textWidth, tokens)
        let iv = arena[inputs[f].visual], il = arena[inputs[f].textual]
        visual.copy(to: iv)
        textual.copy(to: il)
        let normed = normalization == .layerNorm
        let mv = normed ? arena[mixed[f].visual] : arena[visualA]
        let ml = normed ? arena[mixed[f].textual] : arena[textualA]
        for (run, map) in runs(maps) {
            let rows = run.count * n, first = run.lowerBound * n
            let vis = map.vision + f * (dl + 1) * dv, text = map.text + f * (dv + 1) * dl
            mix(own: iv + first * dv, other: il + first * dl, map: vis, rows: rows, inWidth: dl, outWidth: dv,
                into: mv + first * dv, backend: backend)
            mix(own: il + first * dl, other: iv + first * dv, map: text, rows: rows, inWidth: dv, outWidth: dl,
                into: ml + first * dl, backend: backend)
            guard normed else { continue }
            guard let visionNorm = map.visionNorm, let textNorm = map.textNorm else {
                preconditionFailure("CPF with LayerNorm needs the LayerNorm weights of both modalities")
            }
            let stats = statistics[f]
            LayerNorm.forward(y: arena[visualA] + first * dv, mean: arena[stats.visualMean] + first,
                              rstd: arena[stats.visualRstd] + first, x: mv + first * dv, weight: visionNorm.weight,
                              bias: visionNorm.bias, rows: rows, columns: dv, eps: eps)
            LayerNorm.forward(y: arena[textualA] + first * dl, mean: arena[stats.textualMean] + first,
                              rstd: arena[stats.textualRstd] + first, x: ml + first * dl, weight: textNorm.weight,
                              bias: textNorm.bias, rows: rows, columns: dl, eps: eps)
        }
        visual.assign(from: arena[visualA])
        textual.assign(from: arena[textualA])
    }

    /// into (rows, outWidth) = lambda own + (1 - lambda) (other (rows, inWidth) W + b), W = map rows 0 ..< inWidth,
    /// b = map row inWidth.
    private func mix(own: UnsafePointer<Float>, other: UnsafePointer<Float>, map: UnsafePointer<Float>, rows: Int,
                     inWidth: Int, outWidth: Int, into out: UnsafeMutablePointer<Float>, backend: Gemm.Backend) {
        let lambda = momentum, bias = map + inWidth * outWidth
        for r in 0..<rows {
            let row = out + r * outWidth, source = own + r * outWidth
            for c in 0..<outWidth { row[c] = lambda * source[c] + (1 - lambda) * bias[c] }
        }
        Gemm.multiply(backend, transposeA: false, transposeB: false, m: rows, n: outWidth, k: inWidth,
                      alpha: 1 - lambda, a: other, lda: inWidth, b: map, ldb: outWidth, beta: 1, c: out, ldc: outWidth)
    }

    // MARK: Backward

    /// Back-propagates the fusion before prompted layer f + 1 in place: the gradient rows `visual` and `textual`
    /// (dI~, as the towers' backward left them) become dI; the maps' gradients accumulate into `gradients[b]`
    /// for sample b (B entries, equal where `maps` are).
    public func backward(layer f: Int, visual: PromptRows, textual: PromptRows, maps: [Maps],
                         gradients: [MapGradients], backend: Gemm.Backend = .blas) {
        check(layer: f, visual: visual, textual: textual, count: maps.count)
        precondition(gradients.count == maps.count, "\(gradients.count) map gradients for \(maps.count) samples")
        let (dv, dl, n) = (visionWidth, textWidth, tokens)
        let normed = normalization == .layerNorm
        let gv = arena[visualA], gl = arena[textualA]         // dI~
        visual.copy(to: gv)
        textual.copy(to: gl)
        let dmv = normed ? arena[visualB] : gv, dml = normed ? arena[textualB] : gl     // dM
        let div = arena[visualC], dil = arena[textualC]        // dI
        let iv = arena[inputs[f].visual], il = arena[inputs[f].textual]
        for (run, map) in runs(maps) {
            let rows = run.count * n, first = run.lowerBound * n
            let gradient = gradients[run.lowerBound]
            precondition(gradients[run].allSatisfy { $0 == gradient }, "CPF samples \(run) share maps but not their gradients")
            if normed {
                guard let visionNorm = map.visionNorm, let textNorm = map.textNorm,
                      let dVisionNorm = gradient.visionNorm, let dTextNorm = gradient.textNorm else {
                    preconditionFailure("CPF with LayerNorm needs the LayerNorm weights and gradients of both modalities")
                }
                let stats = statistics[f]
                // in the forward pass this was: I~ = LN(M)
                (dmv + first * dv).update(repeating: 0, count: rows * dv)
                (dml + first * dl).update(repeating: 0, count: rows * dl)
                LayerNorm.backward(dx: dmv + first * dv, dWeight: dVisionNorm.weight, dBias: dVisionNorm.bias,
                                   dy: gv + first * dv, x: arena[mixed[f].visual] + first * dv, weight: visionNorm.weight,
                                   mean: arena[stats.visualMean] + first, rstd: arena[stats.visualRstd] + first,
                                   rows: rows, columns: dv)
                LayerNorm.backward(dx: dml + first * dl, dWeight: dTextNorm.weight, dBias: dTextNorm.bias,
                                   dy: gl + first * dl, x: arena[mixed[f].textual] + first * dl, weight: textNorm.weight,
                                   mean: arena[stats.textualMean] + first, rstd: arena[stats.textualRstd] + first,
                                   rows: rows, columns: dl)
            }
            // M_v = lambda I_v + (1 - lambda)(I_l W^vis + b^vis);  M_l = lambda I_l + (1 - lambda)(I_v W^text + b^text)
            let vis = map.vision + f * (dl + 1) * dv, text = map.text + f * (dv + 1) * dl
            unmix(dOwn: div + first * dv, dMixed: dmv + first * dv, dOtherMixed: dml + first * dl,
                  otherMap: text, rows: rows, width: dv, otherWidth: dl, backend: backend)
            unmix(dOwn: dil + first * dl, dMixed: dml + first * dl, dOtherMixed: dmv + first * dv,
                  otherMap: vis, rows: rows, width: dl, otherWidth: dv, backend: backend)
            accumulateMap(gradient.vision + f * (dl + 1) * dv, input: il + first * dl, dMixed: dmv + first * dv,
                          rows: rows, inWidth: dl, outWidth: dv, backend: backend)
            accumulateMap(gradient.text + f * (dv + 1) * dl, input: iv + first * dv, dMixed: dml + first * dl,
                          rows: rows, inWidth: dv, outWidth: dl, backend: backend)
        }
        visual.assign(from: div)
        textual.assign(from: dil)
    }

    /// dOwn (rows, width) = lambda dMixed + (1 - lambda) dOtherMixed (rows, otherWidth) W_other^T, with W_other the
    /// map from this modality into the other, (width + 1, otherWidth) of which the first `width` rows are the weight.
    private func unmix(dOwn: UnsafeMutablePointer<Float>, dMixed: UnsafePointer<Float>, dOtherMixed: UnsafePointer<Float>,
                       otherMap: UnsafePointer<Float>, rows: Int, width: Int, otherWidth: Int, backend: Gemm.Backend) {
        let lambda = momentum
        for i in 0..<rows * width { dOwn[i] = lambda * dMixed[i] }
        Gemm.multiply(backend, transposeA: false, transposeB: true, m: rows, n: width, k: otherWidth,
                      alpha: 1 - lambda, a: dOtherMixed, lda: otherWidth, b: otherMap, ldb: otherWidth,
                      beta: 1, c: dOwn, ldc: width)
    }

    /// dW (inWidth, outWidth) += (1 - lambda) input^T dMixed;  db (row inWidth) += (1 - lambda) sum_rows dMixed.
    private func accumulateMap(_ dMap: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                               dMixed: UnsafePointer<Float>, rows: Int, inWidth: Int, outWidth: Int,
                               backend: Gemm.Backend) {
        let scale = 1 - momentum
        Gemm.multiply(backend, transposeA: true, transposeB: false, m: inWidth, n: outWidth, k: rows,
                      alpha: scale, a: input, lda: inWidth, b: dMixed, ldb: outWidth, beta: 1, c: dMap, ldc: outWidth)
        let bias = dMap + inWidth * outWidth
        for r in 0..<rows {
            let row = dMixed + r * outWidth
            for c in 0..<outWidth { bias[c] += scale * row[c] }
        }
    }

    // MARK: Helpers

    private func check(layer f: Int, visual: PromptRows, textual: PromptRows, count: Int) {
        precondition(f >= 0 && f < fusedLayers, "CPF layer \(f) of \(fusedLayers)")
        precondition(visual.batch == textual.batch && visual.batch <= capacity && count == visual.batch,
                     "CPF of \(visual.batch) visual and \(textual.batch) textual samples with \(count) maps (capacity \(capacity))")
        precondition(visual.count == tokens && textual.count == tokens && visual.width == visionWidth
                     && textual.width == textWidth,
                     "CPF rows (\(visual.count), \(visual.width)) and (\(textual.count), \(textual.width)); "
                     + "planned (\(tokens), \(visionWidth)) and (\(tokens), \(textWidth))")
    }

    /// Maximal runs of consecutive samples with equal maps.
    private func runs(_ maps: [Maps]) -> [(Range<Int>, Maps)] {
        var result: [(Range<Int>, Maps)] = []
        var start = 0
        for b in 1...maps.count where b == maps.count || maps[b] != maps[start] {
            result.append((start..<b, maps[start]))
            start = b
        }
        return result
    }
}
