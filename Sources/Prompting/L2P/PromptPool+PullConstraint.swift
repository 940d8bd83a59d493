/// L2P's surrogate loss that pulls each selected key towards the queries that selected it.
///
/// The official code subtracts `pull_constraint_coeff * reduce_sim` from the cross-entropy (engine.py,
/// train_one_epoch, line 59), with `reduce_sim = sum_b sum_j s[b][j] / n` (prompt.py, lines 96-101: the selected
/// normalised keys times the normalised query, summed, divided by the batch size). We minimise the same thing
/// written as a non-negative distance:
/// ```
/// L_pull = c / N  sum_b sum_j (1 - s[b][j])          s[b][j] = norm(q_b) . norm(k_{idx[b][j]})
///        = c k n / N  -  c reduce_sim                 (N = n: the official term plus the constant c k)
/// ```
/// so the gradient is the official one. N is `normalizer`: the global batch when data-parallel, each rank passing
/// its local rows (the sum of the ranks' L_pull is the loss of the whole batch, and so are their gradients once
/// all-reduced; DDP's average over ranks of the local `c reduce_sim` gives the same when the shards are equal).
///
/// Gradient w.r.t. the keys only (the queries come from the frozen model, and idx is piecewise constant),
/// accumulated (`+=`) into dK (M, d), in Double:
/// ```
/// in the forward pass this was: s[b][j] = qn_b . kn_m,  kn_m = k_m r_m,  r_m = 1 / sqrt(max(||k_m||^2, eps))
/// g_m   = dL/dkn_m = -c / N  sum_{(b, j): idx[b][j] = m} qn_b
/// dk_m += r_m (g_m - kn_m (kn_m . g_m))       ||k_m||^2 > eps  (the Jacobian of x / ||x||)
/// dk_m += r_m g_m                             otherwise        (the floor is a constant: kn_m = k_m / sqrt(eps))
/// ```
/// Keys no sample selected receive nothing.
extension PromptPool {
    /// L_pull of `selection` (computed again from `queries` and `keys`, in Double), and its gradient added to
    /// `keyGradients` (M, d) when given.
    /// - Parameters:
    ///   - queries: Q (selection.count, d), as passed to `select`.
    ///   - keys: K (M, d).
    ///   - coefficient: c (official: 0.1).
    ///   - normalizer: N, the number of samples the loss is averaged over (the global batch).
    public func pullLoss(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, selection: PromptPoolSelection,
                         coefficient: Double, normalizer: Int,
                         keyGradients: UnsafeMutablePointer<Float>? = nil) -> Double {
        precondition(selection.topK == topK, "selection of top-\(selection.topK) for a top-\(topK) pool")
        precondition(normalizer > 0, "normalizer \(normalizer)")
        let d = keyWidth
        let scale = coefficient / Double(normalizer)
        // kn (M, d) and r (M), in Double.
        var keyScales = [Double](repeating: 0, count: size)
        var normalizedKeys = [Double](repeating: 0, count: size * d)
        for m in 0..<size {
            let key = keys + m * d
            keyScales[m] = Self.inverseNorm(key, count: d)
            for c in 0..<d { normalizedKeys[m * d + c] = Double(key[c]) * keyScales[m] }
        }
        // g (M, d): -c/N times the sum of the normalised queries that selected each key.
        var keyDirections = [Double](repeating: 0, count: size * d)
        var selectedBy = [Bool](repeating: false, count: size)
        var loss = 0.0
        var normalizedQuery = [Double](repeating: 0, count: d)
        for b in 0..<selection.count {
            let query = queries + b * d
            let queryScale = Self.inverseNorm(query, count: d)
            for c in 0..<d { normalizedQuery[c] = Double(query[c]) * queryScale }
            for m in selection.indices(of: b) {
                precondition(m >= 0 && m < size, "prompt index \(m) out of 0..<\(size)")
                var similarity = 0.0
                for c in 0..<d {
                    similarity += normalizedQuery[c] * normalizedKeys[m * d + c]
                    keyDirections[m * d + c] -= scale * normalizedQuery[c]
                }
                loss += scale * (1 - similarity)
                selectedBy[m] = true
            }
        }
        guard let keyGradients else { return loss }
        for m in 0..<size where selectedBy[m] {
            let key = keys + m * d
            var squares = 0.0
            for c in 0..<d { squares += Double(key[c]) * Double(key[c]) }
            var along = 0.0
            if squares > Self.normalizationEpsilon {
                for c in 0..<d { along += normalizedKeys[m * d + c] * keyDirections[m * d + c] }
            }
            for c in 0..<d {
                let projected = keyDirections[m * d + c] - normalizedKeys[m * d + c] * along
                keyGradients[m * d + c] += Float(keyScales[m] * projected)
            }
        }
        return loss
    }
}
