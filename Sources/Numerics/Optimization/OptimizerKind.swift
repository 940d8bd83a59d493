/// Which update rule `Optimizer` applies; the names are those of `torch.optim` (Adam, AdamW, SGD).
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case adam, adamw, sgd
}
