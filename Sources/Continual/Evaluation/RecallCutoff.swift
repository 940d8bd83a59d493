/// The K of R@K that the papers print: 1, 5 and 10.
public enum RecallCutoff: Int, Codable, Sendable, CaseIterable {
    case r1 = 1, r5 = 5, r10 = 10
}
