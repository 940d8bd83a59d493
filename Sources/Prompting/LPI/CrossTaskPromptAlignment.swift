import Foundation

/// LPI's Cross-task Prompt Alignment (CPA): an NT-BXent loss that pulls the prompts of semantically close tasks
/// together and pushes the others apart, closeness being the cosine similarity of the task names' embeddings.
///
/// ```
/// X (k, n): the k tasks' prompts of one modality, each flattened to a row (n = D * L * d)
/// z_ij  = 1 if c_ij >= threshold else 0       c_ij = cos(EMBEDDING(N_i), EMBEDDING(N_j))     eq. 7
/// .paper     TS_ij = sum(X_i * X_j)                                                          eq. 8
///            l_ij  = -z_ij log sigma(TS_ij / tau) - (1 - z_ij) log sigma((1 - TS_ij) / tau)   eq. 9
/// .official  s_ij  = cos(X_i, X_j) (i != j),  s_ii = +inf;  u_ij = sigma(s_ij / tau)
///            l_ij  = -z_ij log sigma(u_ij) - (1 - z_ij) log(1 - sigma(u_ij))
/// L_i   = 1/N_pos sum_j z_ij l_ij + 1/N_neg sum_j (1 - z_ij) l_ij    N_pos = sum_j z_ij, N_neg = k - N_pos   eq. 10
/// L_task = (sum_i L_i^v + sum_i L_i^l) / (2k)                                                eq. 11
/// ```
/// LPI, section 4.4, eq. 7-11; the total loss weighs it by lambda_3 = 0.1 (eq. 12). j runs over all k tasks,
/// j = i included (eq. 10 sums j = 1..k and a task is its own positive, c_ii = 1): in `.paper` that term is
/// -log sigma(||X_i||^2 / tau), which grows the prompt's norm; in `.official` it is the constant
/// log(1 + e^-1) ~ 0.3133 without gradient, counted in N_pos. A term of L_i whose count is 0 is 0 (with k = 1 only
/// the task itself is left, a positive).
///
/// `.official` is what the retrieval code does (Kelvin-ywc/LPI, retrieval/models/slinet.py, `SliNet.cal_task_loss`,
/// lines 167-183, with `nt_bxent_loss` as retrieval/matrix/matrix.py defines it, lines 6-33; slinet.py imports it
/// from loss/loss.py, which the repository lacks, and the grounding code from matrix.py): the rows are each task's
/// full visual (textual) prompt flattened; the scores are cosine similarities (`F.cosine_similarity`), not dot products;
/// the diagonal is set to +inf; and the element loss is `binary_cross_entropy_with_logits(input = sigmoid(s / tau))`:
/// the logits are already probabilities, so the sigmoid is applied twice (the "double-sigmoid quirk"): sigma(u) only
/// spans (0.5, 0.73) for u in (0, 1), the loss never reaches 0, and the negative term is -log(1 - sigma(u)) rather
/// than eq. 9's -log sigma((1 - TS) / tau). It is smooth and well defined, so it is offered as it is. Besides: the
/// code's temperature is 0.001 (0.01 in the grounding code), its targets use `c > 0.4` (eq. 7's text says >=;
/// `targets` follows the paper), it returns the mean of the two modalities' means over tasks (= eq. 11), and
/// divides 0 by 0 (NaN) for a task without negatives where we take 0. The caller passes the rows of every task
/// seen so far (the current one last in the code); only the current task's prompts are trained, but the gradient
/// is written for every row.
///
/// Computed in Double, log sigma by softplus: -log sigma(x) = softplus(-x) = max(-x, 0) + log(1 + e^-|x|).
/// `loss` returns L_task (unweighted) and accumulates (`+=`) weight * dL_task/dX for each modality:
/// ```
/// in the forward pass this was: L_i = sum_j w_ij l_ij,  w_ij = z_ij / N_pos_i + (1 - z_ij) / N_neg_i
/// G_ij = w_ij dl_ij/dscore_ij / (2k)
///   .paper     dl/dTS = (-z sigma(-TS/tau) + (1 - z) sigma((TS - 1)/tau)) / tau
///   .official  dl/ds  = (-z sigma(-u) + (1 - z) sigma(u)) u (1 - u) / tau   (i != j; 0 on the diagonal)
/// H = G + G^T
/// .paper     dX_a += weight sum_j H_aj X_j
/// .official  dX_a += weight ( sum_{j != a} H_aj X_j / (|X_a| |X_j|) - (sum_{j != a} H_aj s_aj) X_a / |X_a|^2 )
/// ```
/// A zero row has cosine 0 with every other row and no gradient in `.official` (torch divides by max(|x||y|, eps)).
public struct CrossTaskPromptAlignment: Sendable, Equatable {
    /// Which task score and element loss.
    public enum Variant: String, Codable, Sendable, CaseIterable {
        /// Eq. 8-9: dot products of the flattened prompts, -log sigma(TS/tau) and -log sigma((1 - TS)/tau).
        case paper
        /// The retrieval code's nt_bxent_loss: cosine similarities, +inf self score, the double sigmoid.
        case official
    }

    /// tau_task (the official retrieval code uses 0.001).
    public var temperature: Double
    public var variant: Variant

    public init(temperature: Double = 0.01, variant: Variant = .paper) {
        precondition(temperature > 0, "CPA temperature \(temperature)")
        self.temperature = temperature
        self.variant = variant
    }

    /// Eq. 7: z_ij = 1 where c_ij >= threshold, else 0, for the (taskCount, taskCount) row-major matrix of task-name
    /// cosine similarities `similarity`.
    public static func targets(similarity: [Float], taskCount: Int, threshold: Float = 0.4) -> [Float] {
        precondition(taskCount > 0 && similarity.count == taskCount * taskCount,
                     "\(similarity.count) similarities for \(taskCount) tasks")
        return similarity.map { $0 >= threshold ? 1 : 0 }
    }

    /// L_task of the rows `visual` (taskCount, visualWidth) and `textual` (taskCount, textualWidth) against the 0/1
    /// `targets` (taskCount, taskCount); adds weight * dL_task/dX to `dVisual` and `dTextual` (`+=`; nil skips one).
    public func loss(
        visual: UnsafePointer<Float>, visualWidth: Int, textual: UnsafePointer<Float>, textualWidth: Int,
        taskCount: Int, targets: [Float],
        dVisual: UnsafeMutablePointer<Float>?, dTextual: UnsafeMutablePointer<Float>?, weight: Float = 1
    ) -> Float {
        precondition(taskCount > 0 && visualWidth > 0 && textualWidth > 0,
                     "CPA of \(taskCount) tasks with rows of \(visualWidth) and \(textualWidth)")
        precondition(targets.count == taskCount * taskCount, "\(targets.count) targets for \(taskCount) tasks")
        precondition(targets.allSatisfy { $0 == 0 || $0 == 1 }, "CPA targets are 0 or 1")
        let scale = Double(weight) / Double(2 * taskCount)
        let visualSum = modalityLoss(visual, width: visualWidth, taskCount: taskCount, targets: targets,
                                     gradient: dVisual, scale: scale)
        let textualSum = modalityLoss(textual, width: textualWidth, taskCount: taskCount, targets: targets,
                                      gradient: dTextual, scale: scale)
        return Float((visualSum + textualSum) / Double(2 * taskCount))
    }

    /// sum_i L_i of one modality's rows; adds scale * d(sum_i L_i)/dX to `gradient` when given.
    private func modalityLoss(
        _ rows: UnsafePointer<Float>, width n: Int, taskCount k: Int, targets z: [Float],
        gradient: UnsafeMutablePointer<Float>?, scale: Double
    ) -> Double {
        // Gram matrix X X^T (k, k), in Double.
        var gram = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in i..<k {
                var sum = 0.0
                for c in 0..<n { sum += Double(rows[i * n + c]) * Double(rows[j * n + c]) }
                gram[i * k + j] = sum
                gram[j * k + i] = sum
            }
        }
        let norms = (0..<k).map { gram[$0 * k + $0].squareRoot() }
        let tau = temperature

        // Scores, element losses l_ij and their derivatives dl_ij/dscore_ij.
        var cosines = [Double](repeating: 0, count: k * k)
        var elementLoss = [Double](repeating: 0, count: k * k)
        var slope = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                let target = Double(z[i * k + j])
                switch variant {
                case .paper:
                    let ts = gram[i * k + j]
                    // -log sigma(TS/tau) = softplus(-TS/tau); -log sigma((1 - TS)/tau) = softplus((TS - 1)/tau)
                    elementLoss[i * k + j] = target * Self.softplus(-ts / tau)
                        + (1 - target) * Self.softplus((ts - 1) / tau)
                    slope[i * k + j] = (-target * Self.sigmoid(-ts / tau)
                        + (1 - target) * Self.sigmoid((ts - 1) / tau)) / tau
                case .official:
                    let u: Double
                    if i == j {
                        u = 1  // sigma(+inf)
                    } else {
                        let product = norms[i] * norms[j]
                        cosines[i * k + j] = product > 0 ? gram[i * k + j] / product : 0
                        u = Self.sigmoid(cosines[i * k + j] / tau)
                    }
                    elementLoss[i * k + j] = target * Self.softplus(-u) + (1 - target) * Self.softplus(u)
                    if i != j && norms[i] * norms[j] > 0 {
                        let dLossDU = -target * Self.sigmoid(-u) + (1 - target) * Self.sigmoid(u)
                        slope[i * k + j] = dLossDU * u * (1 - u) / tau
                    }
                }
            }
        }

        // L_i = sum_j w_ij l_ij; G_ij = w_ij slope_ij.
        var total = 0.0
        var g = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            let positives = (0..<k).reduce(0.0) { $0 + Double(z[i * k + $1]) }
            let negatives = Double(k) - positives
            for j in 0..<k {
                let target = Double(z[i * k + j])
                let w = (positives > 0 ? target / positives : 0) + (negatives > 0 ? (1 - target) / negatives : 0)
                total += w * elementLoss[i * k + j]
                g[i * k + j] = w * slope[i * k + j]
            }
        }
        guard let gradient else { return total }

        // dX = M X with M from H = G + G^T.
        var m = [Double](repeating: 0, count: k * k)
        for a in 0..<k {
            for j in 0..<k {
                let h = g[a * k + j] + g[j * k + a]
                switch variant {
                case .paper:
                    m[a * k + j] += h
                case .official:
                    guard j != a, norms[a] * norms[j] > 0 else { continue }
                    m[a * k + j] += h / (norms[a] * norms[j])
                    m[a * k + a] -= h * cosines[a * k + j] / (norms[a] * norms[a])
                }
            }
        }
        var row = [Double](repeating: 0, count: n)
        for a in 0..<k {
            for c in 0..<n { row[c] = 0 }
            for j in 0..<k where m[a * k + j] != 0 {
                let factor = m[a * k + j]
                for c in 0..<n { row[c] += factor * Double(rows[j * n + c]) }
            }
            for c in 0..<n { gradient[a * n + c] += Float(scale * row[c]) }
        }
        return total
    }

    /// log(1 + e^x), without overflow.
    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    /// 1 / (1 + e^-x), without overflow.
    static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }
}
