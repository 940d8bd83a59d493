/// NSP2's prompt-distribution loss L_LN: keeps each prompt token's mean and standard deviation over its channels
/// where the previous task left them, the paper's "assumption of distribution invariance" that lets LayerNorm
/// drop out of the consistency conditions.
///
/// ```
/// per prompted layer: P (L, D) the current prompt, P0 (L, D) the previous task's
///   mu_l    = 1/D sum_d P[l][d]                                   (L)
///   sigma_l = sqrt(1/D sum_d (P[l][d] - mu_l)^2)                  (L)  biased (unbiased=False)
///   mu0, sigma0 likewise from P0
/// L_LN = weight * sum_layers 1/c sum_l ( |mu_l - mu0_l| + |sigma_l - sigma0_l| )
///   c = L   (.mean: the official code's F.l1_loss, our default)
///   c = 1   (.sum: the paper's || . ||_1)
/// ```
/// The official code (`train_eval.py`, `train_one_epoch`, lines 234-247) adds, for every trained tensor with
/// "prompt" in its name (one (1, L, D) prompt per prompted block), `F.l1_loss(P.mean(-1), P0.mean(-1))` and
/// `F.l1_loss(P.std(-1, unbiased=False), P0.std(-1, unbiased=False))` (reduction 'mean': over the L tokens) and
/// multiplies the sum by `--ln_loss_lam` (default 1, asserted to be 1 with the null space, line 203), from the
/// second task on, against the prompts cached at the end of the previous task.
///
/// Statistics and loss in Double. `forward` returns the loss; `backward` accumulates (`+=`) its gradient:
/// ```
/// in the forward pass this was: weight/c (|mu_l - mu0_l| + |sigma_l - sigma0_l|)
/// dL/dP[l][d] += weight/c ( sgn(mu_l - mu0_l) / D + sgn(sigma_l - sigma0_l) (P[l][d] - mu_l) / (D sigma_l) )
/// ```
/// with sgn(0) = 0 (torch's L1 gradient) and the sigma term 0 where sigma_l = 0 (torch masks std's gradient there).
public struct PromptStatisticsLoss: Sendable {
    /// How each layer's L1 is reduced over its tokens.
    public enum Reduction: String, Codable, Sendable, CaseIterable {
        case mean, sum
    }

    public let slices: [PromptSlice]
    public let weight: Double
    public let reduction: Reduction
    /// mu0 per slice, (L) each.
    private let referenceMeans: [[Double]]
    /// sigma0 per slice, (L) each.
    private let referenceDeviations: [[Double]]

    /// The loss against the prompts in `previous` (a flat buffer of the same layout as the values it will see).
    public init(previous: UnsafePointer<Float>, slices: [PromptSlice], weight: Double = 1, reduction: Reduction = .mean) {
        self.slices = slices
        self.weight = weight
        self.reduction = reduction
        let statistics = slices.map { Self.statistics(previous, $0) }
        referenceMeans = statistics.map(\.means)
        referenceDeviations = statistics.map(\.deviations)
    }

    /// L_LN of the prompts in `values`.
    public func forward(_ values: UnsafePointer<Float>) -> Double {
        var loss = 0.0
        for (s, slice) in slices.enumerated() {
            let (means, deviations) = Self.statistics(values, slice)
            var layer = 0.0
            for l in 0..<slice.tokens {
                layer += abs(means[l] - referenceMeans[s][l]) + abs(deviations[l] - referenceDeviations[s][l])
            }
            loss += layer / divisor(slice)
        }
        return weight * loss
    }

    /// Adds dL_LN/dP to `gradients` (same layout as `values`).
    public func backward(_ values: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        for (s, slice) in slices.enumerated() {
            let (means, deviations) = Self.statistics(values, slice)
            let scale = weight / divisor(slice)
            let d = Double(slice.width)
            for l in 0..<slice.tokens {
                let meanSign = sign(means[l] - referenceMeans[s][l])
                let deviationSign = sign(deviations[l] - referenceDeviations[s][l])
                let deviationFactor = deviations[l] > 0 ? deviationSign / (d * deviations[l]) : 0
                let row = slice.offset + l * slice.width
                for j in 0..<slice.width {
                    let x = Double(values[row + j])
                    gradients[row + j] += Float(scale * (meanSign / d + deviationFactor * (x - means[l])))
                }
            }
        }
    }

    /// c: L for `.mean`, 1 for `.sum`.
    private func divisor(_ slice: PromptSlice) -> Double {
        reduction == .mean ? Double(slice.tokens) : 1
    }

    /// -1, 0 or 1.
    private func sign(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    /// Per-token mean and biased standard deviation over the D channels of `slice`, in Double.
    static func statistics(_ values: UnsafePointer<Float>, _ slice: PromptSlice) -> (means: [Double], deviations: [Double]) {
        var means = [Double](repeating: 0, count: slice.tokens)
        var deviations = [Double](repeating: 0, count: slice.tokens)
        let d = Double(slice.width)
        for l in 0..<slice.tokens {
            let row = values + slice.offset + l * slice.width
            var sum = 0.0
            for j in 0..<slice.width { sum += Double(row[j]) }
            let mean = sum / d
            var squares = 0.0
            for j in 0..<slice.width { squares += (Double(row[j]) - mean) * (Double(row[j]) - mean) }
            means[l] = mean
            deviations[l] = (squares / d).squareRoot()
        }
        return (means, deviations)
    }
}
