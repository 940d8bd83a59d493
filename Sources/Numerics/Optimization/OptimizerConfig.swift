/// Hyper-parameters of `Optimizer`, with PyTorch's defaults (`torch.optim.Adam`, `AdamW`, `SGD`).
///
/// Decoded (the `[optimizer]` table of a run config, snake_case keys), every key but `lr` may be left out (the defaults below apply) and an unknown key is an
/// error. `weightDecay` means what it means in torch for each kind:
/// ```
/// adam, sgd:  g <- g + weightDecay * p            (L2 penalty folded into the gradient)
/// adamw:      p <- p - lr * weightDecay * p       (decoupled, Loshchilov & Hutter 2019)
/// ```
public struct OptimizerConfig: Codable, Equatable, Sendable {
    public var kind: OptimizerKind = .adam
    /// Base learning rate; the rate of a step comes from a `LearningRateSchedule` applied to it.
    public var lr: Float
    /// Double, as torch's (Python floats): in Float32, 1 - 0.999 is off by 1.3e-5, which shows in v.
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    /// Added to sqrt(v_hat), outside the square root (as torch).
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0
    /// SGD only; dampening is 0.
    public var momentum: Float = 0.9
    /// SGD only: Nesterov momentum (needs momentum > 0).
    public var nesterov: Bool = false

    public init(kind: OptimizerKind = .adam, lr: Float, beta1: Double = 0.9, beta2: Double = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, momentum: Float = 0.9, nesterov: Bool = false) {
        self.kind = kind
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.nesterov = nesterov
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, lr, beta1, beta2, eps, momentum, nesterov
        case weightDecay = "weight_decay"
    }

    public init(from decoder: Decoder) throws {
        try StrictKeys.rejectUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), type: "optimizer")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(lr: try container.decode(Float.self, forKey: .lr))
        kind = try container.decodeIfPresent(OptimizerKind.self, forKey: .kind) ?? kind
        beta1 = try container.decodeIfPresent(Double.self, forKey: .beta1) ?? beta1
        beta2 = try container.decodeIfPresent(Double.self, forKey: .beta2) ?? beta2
        eps = try container.decodeIfPresent(Float.self, forKey: .eps) ?? eps
        weightDecay = try container.decodeIfPresent(Float.self, forKey: .weightDecay) ?? weightDecay
        momentum = try container.decodeIfPresent(Float.self, forKey: .momentum) ?? momentum
        nesterov = try container.decodeIfPresent(Bool.self, forKey: .nesterov) ?? nesterov
        try validate()
    }

    /// The checks torch's constructors make, with the field named in the message.
    public func validate() throws {
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw OptimizationError("optimizer: \(message)") }
        }
        try check(lr.isFinite && lr >= 0, "lr must be finite and >= 0, got \(lr)")
        try check(weightDecay.isFinite && weightDecay >= 0, "weight_decay must be finite and >= 0, got \(weightDecay)")
        switch kind {
        case .adam, .adamw:
            try check(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1), got \(beta1)")
            try check(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1), got \(beta2)")
            try check(eps.isFinite && eps >= 0, "eps must be finite and >= 0, got \(eps)")
        case .sgd:
            try check(momentum.isFinite && momentum >= 0, "momentum must be finite and >= 0, got \(momentum)")
            try check(!nesterov || momentum > 0, "nesterov needs momentum > 0")
        }
    }
}
