import CLIP

/// NSP2's statistics of one prompted vision layer over a task's data on this rank (DESIGN.md, "Null space"),
/// kept as compressed factors, never as Omega1 itself:
/// ```
/// Omega1 = [Q_1 W_k,1 ; ... ; Q_H W_k,H]   Q_h: the image tokens' queries of head h (rows: samples x image
///                                           tokens; bias included, before the 1/sqrt(d_h) scale), W_k,h: the
///                                           key weight's d_h x D slice of head h
/// Omega2 = [S_P,1 ; ... ; S_P,H]           S_P,h: head h's attention of image-token queries on the L prompt keys
/// kept:    R_h with R_h^T R_h = Q_h^T Q_h (StreamingQR, d_h columns), R_2 with R_2^T R_2 = Omega2^T Omega2
/// M = [R_1 W_k,1 ; ... ; R_H W_k,H]         (sum_h rows(R_h)) x D, with M^T M = Omega1^T Omega1
/// ```
/// so M and R_2 have Omega1's and Omega2's singular values and right singular vectors: the null spaces NSP2
/// projects the prompt updates onto. Ranks' M stack by rows (DistributedSVD), tasks' likewise.
public struct LayerNullSpaceStatistics: NullSpaceStatisticsAccumulator {
    public let heads: Int
    public let headSize: Int
    public let promptTokens: Int
    /// R_h of each head's image-token queries.
    public private(set) var queryFactors: [StreamingQR]
    /// R_2 of the image queries' attention on the prompt keys.
    public private(set) var promptAttention: StreamingQR

    public init(heads: Int, headSize: Int, promptTokens: Int) {
        self.heads = heads
        self.headSize = headSize
        self.promptTokens = promptTokens
        queryFactors = (0..<heads).map { _ in StreamingQR(columns: headSize) }
        promptAttention = StreamingQR(columns: promptTokens)
    }

    /// Rows of Omega1 seen (samples x image tokens x heads).
    public var rowsSeen: Int { queryFactors.reduce(0) { $0 + $1.rowsSeen } }

    /// Adds one batch's rows, read from the layer's attention record of an (eval) forward.
    public mutating func accumulate(_ record: VisionTower.AttentionRecord) throws {
        precondition(record.heads == heads && record.headSize == headSize && record.promptRows.count == promptTokens,
                     "statistics of \(heads) x \(headSize) with \(promptTokens) prompts fed another layer's record")
        for h in 0..<heads {
            let queries = record.imageQueries(head: h)
            try queryFactors[h].append(rows: queries.values, count: queries.rows, rowStride: headSize)
        }
        let attention = record.promptAttention()
        try promptAttention.append(rows: attention.values, count: attention.rows, rowStride: promptTokens)
    }

    /// `accumulate(_:)`: the key weight enters only at the end (`channelFactor`).
    public mutating func accumulate(_ record: VisionTower.AttentionRecord, keyWeight: UnsafePointer<Float>) throws {
        try accumulate(record)
    }

    /// R_2, (rows, L).
    public func tokenFactor() -> (values: [Double], rows: Int) {
        (promptAttention.factor, promptAttention.factorRows)
    }

    /// M = [R_1 W_k,1 ; ... ; R_H W_k,H], row-major, given the layer's key weight W_k (D x D, row-major as
    /// Hugging Face stores `k_proj.weight`: output features by input features).
    public func channelFactor(keyWeight: UnsafePointer<Float>) -> (values: [Double], rows: Int) {
        let d = heads * headSize
        let rows = queryFactors.reduce(0) { $0 + $1.factorRows }
        var m = [Double](repeating: 0, count: rows * d)
        var offset = 0
        for (h, factor) in queryFactors.enumerated() {
            for i in 0..<factor.factorRows {
                for k in 0..<headSize {
                    let r = factor.factor[i * headSize + k]
                    guard r != 0 else { continue }
                    let keyRow = keyWeight + (h * headSize + k) * d
                    for j in 0..<d { m[(offset + i) * d + j] += r * Double(keyRow[j]) }
                }
            }
            offset += factor.factorRows
        }
        return (m, rows)
    }
}
