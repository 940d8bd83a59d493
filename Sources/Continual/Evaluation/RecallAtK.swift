/// R@1, R@5 and R@10 of one set of queries, in percent (0...100): the share of queries whose best relevant
/// gallery item ranks within the first K (`RetrievalRecall`).
public struct RecallAtK: Codable, Equatable, Sendable {
    public var r1: Double
    public var r5: Double
    public var r10: Double

    public init(r1: Double, r5: Double, r10: Double) {
        self.r1 = r1
        self.r5 = r5
        self.r10 = r10
    }

    public subscript(cutoff: RecallCutoff) -> Double {
        switch cutoff {
        case .r1: r1
        case .r5: r5
        case .r10: r10
        }
    }
}
