/// What a checkpoint keeps of an `Optimizer` so that a resumed run continues bit for bit.
///
/// `firstMoment` is Adam's m (`exp_avg`) or SGD's momentum buffer; `secondMoment` is Adam's v (`exp_avg_sq`)
/// and empty for SGD. Both are empty when the kind keeps nothing (SGD without momentum).
public struct OptimizerState: Codable, Equatable, Sendable {
    public var kind: OptimizerKind
    public var stepCount: Int
    public var firstMoment: [Float]
    public var secondMoment: [Float]

    public init(kind: OptimizerKind, stepCount: Int, firstMoment: [Float], secondMoment: [Float]) {
        self.kind = kind
        self.stepCount = stepCount
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }
}
