import Foundation

/// The learning rate as a pure function of training progress in (fractional) epochs, so a resumed run
/// and a run on another rank count get the same rate at the same point: epoch = step / stepsPerEpoch.
///
/// With W = warmupEpochs, T = totalEpochs, f = warmupStartFactor, e = epoch:
/// ```
/// warm-up (e < W):  rate = base * (f + (1 - f) * e / W)                      (torch LinearLR)
/// constant:         rate = base
/// cosine:           rate = minLR + (base - minLR) * (1 + cos(pi * min(e - W, T - W) / (T - W))) / 2
///                                                                            (torch CosineAnnealingLR)
/// step:             rate = base * gamma^(number of milestones <= e)          (torch MultiStepLR)
/// ```
/// Evaluated at every step these equal torch's `SequentialLR([LinearLR, main], milestones: [W steps])`
/// stepped once per step, except that cosine stays at `minLR` after T (torch's rises again) and the
/// milestones here are epochs of the whole run (torch's second scheduler counts from the end of the warm-up).
/// Decoded (the `[schedule]` table of a run config, snake_case keys), every key but `kind` may be left out; an unknown key is an error.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case constant, cosine, step
    }

    public var kind: Kind
    /// Length of the linear warm-up in epochs (0: none); allowed before cosine and step.
    public var warmupEpochs: Double = 0
    /// The warm-up starts at `warmupStartFactor * base` (torch LinearLR's default 1/3).
    public var warmupStartFactor: Float = 1.0 / 3.0
    /// Cosine: the rate reached at the end of training (torch's eta_min).
    public var minLR: Float = 0
    /// Step: the factor applied at each milestone.
    public var gamma: Float = 0.1
    /// Step: the epochs at which the rate is multiplied by gamma, increasing.
    public var milestones: [Double] = []

    public init(kind: Kind, warmupEpochs: Double = 0, warmupStartFactor: Float = 1.0 / 3.0, minLR: Float = 0,
                gamma: Float = 0.1, milestones: [Double] = []) {
        self.kind = kind
        self.warmupEpochs = warmupEpochs
        self.warmupStartFactor = warmupStartFactor
        self.minLR = minLR
        self.gamma = gamma
        self.milestones = milestones
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, gamma, milestones
        case warmupEpochs = "warmup_epochs", warmupStartFactor = "warmup_start_factor", minLR = "min_lr"
    }

    public init(from decoder: Decoder) throws {
        try StrictKeys.rejectUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), type: "schedule")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .kind)
        guard let kind = Kind(rawValue: name) else {
            throw OptimizationError("schedule: unknown kind \"\(name)\" (expected one of "
                                    + Kind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        self.init(kind: kind)
        warmupEpochs = try container.decodeIfPresent(Double.self, forKey: .warmupEpochs) ?? warmupEpochs
        warmupStartFactor = try container.decodeIfPresent(Float.self, forKey: .warmupStartFactor) ?? warmupStartFactor
        minLR = try container.decodeIfPresent(Float.self, forKey: .minLR) ?? minLR
        gamma = try container.decodeIfPresent(Float.self, forKey: .gamma) ?? gamma
        milestones = try container.decodeIfPresent([Double].self, forKey: .milestones) ?? milestones
    }

    /// Rejects values no run could mean, naming the field. The length of training is needed for the
    /// warm-up and milestone checks, so it is an argument (the trainer knows it; the schedule does not).
    public func validate(totalEpochs: Double) throws {
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw OptimizationError("schedule: \(message)") }
        }
        try check(totalEpochs.isFinite && totalEpochs > 0, "totalEpochs must be > 0, got \(totalEpochs)")
        try check(warmupEpochs.isFinite && warmupEpochs >= 0, "warmup_epochs must be >= 0, got \(warmupEpochs)")
        try check(kind != .constant || warmupEpochs == 0, "warmup_epochs needs kind cosine or step, not constant")
        try check(warmupEpochs < totalEpochs || warmupEpochs == 0,
                  "warmup_epochs \(warmupEpochs) is not shorter than training (\(totalEpochs) epochs)")
        try check(warmupStartFactor > 0 && warmupStartFactor <= 1,
                  "warmup_start_factor must be in (0, 1], got \(warmupStartFactor)")
        try check(minLR.isFinite && minLR >= 0, "min_lr must be >= 0, got \(minLR)")
        try check(gamma.isFinite && gamma > 0, "gamma must be > 0, got \(gamma)")
        try check(kind == .step || milestones.isEmpty, "milestones need kind step, not \(kind.rawValue)")
        for (i, milestone) in milestones.enumerated() {
            try check(milestone.isFinite && milestone >= warmupEpochs,
                      "milestones[\(i)] = \(milestone) must be >= warmup_epochs (\(warmupEpochs))")
            if i > 0 {
                try check(milestone > milestones[i - 1],
                          "milestones must be increasing, but milestones[\(i)] = \(milestone) follows \(milestones[i - 1])")
            }
        }
    }

    /// The learning rate at `epoch` (fractional: step / stepsPerEpoch) of a run of `totalEpochs`, for base
    /// rate `base` (`OptimizerConfig.lr`). Throws nothing: the values were checked by `validate`.
    public func rate(base: Float, epoch: Double, totalEpochs: Double) -> Float {
        if epoch < warmupEpochs {
            let factor = Double(warmupStartFactor) + (1 - Double(warmupStartFactor)) * epoch / warmupEpochs
            return Float(Double(base) * factor)
        }
        switch kind {
        case .constant:
            return base
        case .cosine:
            let progress = min(epoch - warmupEpochs, totalEpochs - warmupEpochs) / (totalEpochs - warmupEpochs)
            return Float(Double(minLR) + (Double(base) - Double(minLR)) * (1 + cos(Double.pi * progress)) / 2)
        case .step:
            let passed = milestones.prefix { $0 <= epoch }.count
            return Float(Double(base) * pow(Double(gamma), Double(passed)))
        }
    }
}
