import Foundation

/// Adam, AdamW or SGD over one flat Float32 buffer of trainable parameters: exactly `torch.optim.Adam`,
/// `AdamW` and `SGD` (single-tensor path, no amsgrad, dampening 0, maximize false).
///
/// Step t (1-based), gradient g, learning rate lr of this step (from the schedule), parameters p:
/// ```
/// Adam / AdamW                                     SGD (mu = momentum)
///   g  = g + wd * p            (adam only)           g   = g + wd * p
///   m  = lerp(m, g, 1 - beta1)                       buf = t == 1 ? g : mu * buf + g   (mu > 0)
///   v  = beta2 * v + (1 - beta2) * g * g             d   = nesterov ? g + mu * buf : buf   (g if mu == 0)
///   dP = -lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///   dP = dP - lr * wd * p      (adamw only)          dP  = -lr * d
///     (as torch: p * Float(1 - lr * wd) - p)
///   p  = p + transformUpdate(dP)                     p   = p + transformUpdate(dP)
/// ```
/// (Kingma & Ba 2015; Loshchilov & Hutter 2019 for the decoupled decay; eps outside the square root and the
/// bias corrections as torch computes them, in Double.) The moments always see the raw gradient; only the
/// update dP goes through `transformUpdate`, which is where NSP2 projects it onto the null space.
///
/// Weight decay (either form) applies to every parameter, or only to `decayedRanges` of the buffer: torch's two
/// parameter groups `{weight_decay: wd}` and `{weight_decay: 0}` (CLIP decays its weight matrices, not its
/// gains, biases and embeddings).
///
/// Every rank holds the same gradients after the all-reduce and runs the same steps, so the parameters stay
/// identical across ranks. The moments and the update buffer are allocated once, here; `step` allocates nothing.
public final class Optimizer {
    public let config: OptimizerConfig
    public let parameterCount: Int
    /// Steps taken so far (torch's `state["step"]`); the next step is `stepCount + 1`.
    public private(set) var stepCount = 0

    /// Adam's m or SGD's momentum buffer (`firstMomentCount` floats: parameterCount, or 0 for plain SGD).
    private let firstMoment: UnsafeMutablePointer<Float>
    /// Adam's v (`secondMomentCount` floats: parameterCount, or 0 for SGD).
    private let secondMoment: UnsafeMutablePointer<Float>
    /// dP of the current step, handed to `transformUpdate` before it is added.
    private let update: UnsafeMutablePointer<Float>
    private let firstMomentCount: Int
    private let secondMomentCount: Int
    /// 0..<parameterCount cut into consecutive pieces, each decayed or not.
    private let segments: [(range: Range<Int>, decays: Bool)]

    /// `decayedRanges`: where weight decay applies (increasing, disjoint, within the buffer); nil for everywhere.
    public init(config: OptimizerConfig, parameterCount: Int, decayedRanges: [Range<Int>]? = nil) {
        precondition(parameterCount >= 0, "negative parameter count \(parameterCount)")
        self.config = config
        self.parameterCount = parameterCount
        var segments: [(range: Range<Int>, decays: Bool)] = []
        var covered = 0
        for range in decayedRanges ?? [0..<parameterCount] where !range.isEmpty {
            precondition(range.lowerBound >= covered && range.upperBound <= parameterCount,
                         "decayed range \(range) overlaps an earlier one or leaves 0..<\(parameterCount)")
            if range.lowerBound > covered { segments.append((covered..<range.lowerBound, false)) }
            segments.append((range, true))
            covered = range.upperBound
        }
        if covered < parameterCount { segments.append((covered..<parameterCount, false)) }
        self.segments = segments
        switch config.kind {
        case .adam, .adamw:
            (firstMomentCount, secondMomentCount) = (parameterCount, parameterCount)
        case .sgd:
            (firstMomentCount, secondMomentCount) = (config.momentum != 0 ? parameterCount : 0, 0)
        }
        firstMoment = .allocate(capacity: max(firstMomentCount, 1))
        firstMoment.initialize(repeating: 0, count: firstMomentCount)
        secondMoment = .allocate(capacity: max(secondMomentCount, 1))
        secondMoment.initialize(repeating: 0, count: secondMomentCount)
        update = .allocate(capacity: max(parameterCount, 1))
        update.initialize(repeating: 0, count: parameterCount)
    }

    deinit {
        firstMoment.deallocate()
        secondMoment.deallocate()
        update.deallocate()
    }

    /// One step at learning rate `lr` over `parameterCount` parameters and gradients (see the type's equations).
    /// `transformUpdate(dP, parameterCount)`, if given, may change the update in place before it is added.
    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, lr: Float,
                     transformUpdate: ((UnsafeMutablePointer<Float>, Int) -> Void)? = nil) {
        stepCount += 1
        switch config.kind {
        case .adam, .adamw: adamUpdate(parameters: parameters, gradients: gradients, lr: lr)
        case .sgd: sgdUpdate(parameters: parameters, gradients: gradients, lr: lr)
        }
        transformUpdate?(update, parameterCount)
        for i in 0..<parameterCount { parameters[i] += update[i] }
    }

    /// Writes Adam's / AdamW's dP into `update` and advances m and v.
    private func adamUpdate(parameters: UnsafePointer<Float>, gradients: UnsafePointer<Float>, lr: Float) {
        // Scalars as torch forms them: in Double, then rounded to Float once.
        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(config.beta1, t)))
        let biasCorrection2Sqrt = Float((1 - pow(config.beta2, t)).squareRoot())
        let (weight, beta2, oneMinusBeta2) = (Float(1 - config.beta1), Float(config.beta2), Float(1 - config.beta2))
        let eps = config.eps
        for segment in segments {
            let l2 = config.kind == .adam && segment.decays ? config.weightDecay : 0
            // AdamW's decay as torch applies it, p * Float(1 - lr * wd); written as an update, p * decay - p is exact.
            let decay = config.kind == .adamw && segment.decays ? Float(1 - Double(lr) * Double(config.weightDecay)) : 1
            for i in segment.range {
                let g = l2 != 0 ? gradients[i] + l2 * parameters[i] : gradients[i]
                // torch's lerp(m, g, w): m + w (g - m) when w < 0.5, else g - (g - m)(1 - w).
                let m = weight < 0.5 ? firstMoment[i] + weight * (g - firstMoment[i])
                                     : g - (g - firstMoment[i]) * (1 - weight)
                let v = secondMoment[i] * beta2 + g * g * oneMinusBeta2
                firstMoment[i] = m
                secondMoment[i] = v
                let denominator = v.squareRoot() / biasCorrection2Sqrt + eps
                update[i] = (parameters[i] * decay - parameters[i]) - stepSize * (m / denominator)
            }
        }
    }

    /// Writes SGD's dP into `update` and advances the momentum buffer.
    private func sgdUpdate(parameters: UnsafePointer<Float>, gradients: UnsafePointer<Float>, lr: Float) {
        let (mu, nesterov) = (config.momentum, config.nesterov)
        let first = stepCount == 1
        for segment in segments {
            let wd = segment.decays ? config.weightDecay : 0
            for i in segment.range {
                var d = wd != 0 ? gradients[i] + wd * parameters[i] : gradients[i]
                if mu != 0 {
                    let buffer = first ? d : firstMoment[i] * mu + d
                    firstMoment[i] = buffer
                    d = nesterov ? d + mu * buffer : buffer
                }
                update[i] = -lr * d
            }
        }
    }

    /// A copy of the step count and the moments, for a checkpoint.
    public var state: OptimizerState {
        OptimizerState(kind: config.kind, stepCount: stepCount,
                       firstMoment: Array(UnsafeBufferPointer(start: firstMoment, count: firstMomentCount)),
                       secondMoment: Array(UnsafeBufferPointer(start: secondMoment, count: secondMomentCount)))
    }

    /// Puts back a saved state; the next `step` then does exactly what it did in the run that saved it.
    /// Throws, changing nothing, when the kind or a moment's length does not fit this optimiser.
    public func restore(_ state: OptimizerState) throws {
        guard state.kind == config.kind else {
            throw OptimizationError("optimizer state: kind \(state.kind.rawValue), this optimizer is \(config.kind.rawValue)")
        }
        guard state.stepCount >= 0 else {
            throw OptimizationError("optimizer state: negative stepCount \(state.stepCount)")
        }
        guard state.firstMoment.count == firstMomentCount, state.secondMoment.count == secondMomentCount else {
            throw OptimizationError("optimizer state: moments of \(state.firstMoment.count) and \(state.secondMoment.count) "
                                    + "values, this optimizer needs \(firstMomentCount) and \(secondMomentCount)")
        }
        stepCount = state.stepCount
        firstMoment.update(from: state.firstMoment, count: firstMomentCount)
        secondMoment.update(from: state.secondMoment, count: secondMomentCount)
    }
}
