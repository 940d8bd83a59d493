import Numerics

/// The head both towers end with: LayerNorm on each sequence's pooled row, then the projection (no bias).
///
/// ```
/// pooled: (B, D) rows of Y (CLS for vision, EOT for text)
/// normed = LN(pooled);  embeds = normed W_proj^T          W_proj: (E, D)   embeds: (B, E)
/// ```
/// `backward` scatters dpooled back into the (B, T, D) gradient of Y (zero elsewhere) and accumulates the
/// head's weight gradients (`+=`) when given. Built for `TowerUse.inference`, it reserves no dnormed or
/// dpooled and has no backward.
struct ProjectionHead {
    /// The head's weights (or their gradients).
    struct Weights {
        let layerNormWeight, layerNormBias, projection: UnsafeMutablePointer<Float>
    }

    let width: Int
    let projectionDim: Int
    let eps: Float
    let use: TowerUse
    private let pooled, normed, mean, rstd, embeds, dNormed, dPooled: ArenaSlice

    init(width: Int, projectionDim: Int, eps: Float, capacity: Int, use: TowerUse, arenaPlan: inout ArenaPlan) {
        self.width = width
        self.projectionDim = projectionDim
        self.eps = eps
        self.use = use
        pooled = arenaPlan.reserve(capacity * width)
        normed = arenaPlan.reserve(capacity * width)
        mean = arenaPlan.reserve(capacity)
        rstd = arenaPlan.reserve(capacity)
        embeds = arenaPlan.reserve(capacity * projectionDim)
        let gradientRows = use == .training ? capacity : 0
        dNormed = arenaPlan.reserve(gradientRows * width)
        dPooled = arenaPlan.reserve(gradientRows * width)
    }

    /// embeds (B, E) from row `row(b)` of sequence b of Y (B, tokens, D).
    func forward(_ arena: Arena, weights w: Weights, y: UnsafePointer<Float>, tokens: Int, batch: Int,
                 row: (Int) -> Int) -> UnsafePointer<Float> {
        let d = width
        for b in 0..<batch { (arena[pooled] + b * d).update(from: y + (b * tokens + row(b)) * d, count: d) }
        LayerNorm.forward(y: arena[normed], mean: arena[mean], rstd: arena[rstd], x: arena[pooled],
                          weight: w.layerNormWeight, bias: w.layerNormBias, rows: batch, columns: d, eps: eps)
        Linear.forward(y: arena[embeds], x: arena[normed], weight: w.projection, bias: nil,
                       rows: batch, inFeatures: d, outFeatures: projectionDim)
        return UnsafePointer(arena[embeds])
    }

    /// In the forward pass this was `embeds = LN(Y[b, row(b)]) W_proj^T`: writes dY (B, tokens, D), zero but
    /// at the pooled rows.
    func backward(_ arena: Arena, weights w: Weights, gradients: Weights?, dEmbeds: UnsafePointer<Float>,
                  dY: UnsafeMutablePointer<Float>, tokens: Int, batch: Int, row: (Int) -> Int) {
        precondition(use == .training, "the projection head's backward in a tower built for inference")
        let d = width
        arena[dNormed].update(repeating: 0, count: batch * d)
        Linear.backward(dx: arena[dNormed], dWeight: gradients?.projection, dBias: nil, dy: dEmbeds, x: arena[normed],
                        weight: w.projection, rows: batch, inFeatures: d, outFeatures: projectionDim)
        arena[dPooled].update(repeating: 0, count: batch * d)
        LayerNorm.backward(dx: arena[dPooled], dWeight: gradients?.layerNormWeight, dBias: gradients?.layerNormBias,
                           dy: arena[dNormed], x: arena[pooled], weight: w.layerNormWeight, mean: arena[mean],
                           rstd: arena[rstd], rows: batch, columns: d)
        dY.update(repeating: 0, count: batch * tokens * d)
        for b in 0..<batch { (dY + (b * tokens + row(b)) * d).update(from: arena[dPooled] + b * d, count: d) }
    }
}
