/// Token and positional embeddings.
///
/// ```
/// TokenEmbedding:       y[n, :] = table[ids[n], :]          ids: (N)   table: (V, D)   y: (N, D)
/// PositionalEmbedding:  y[b, t, :] += pos[t, :]             y: (B, T, D)   pos: (>= T, D)
/// ```
/// Backwards accumulate (`+=`) into the tables: a scatter-add of rows.
public enum TokenEmbedding {
    public static func forward(y: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>,
                               rows: Int, width: Int) {
        for n in 0..<rows { (y + n * width).update(from: table + Int(ids[n]) * width, count: width) }
    }

    /// In the forward pass this was `y[n] = table[ids[n]]`: `dtable[ids[n]] += dy[n]`.
    public static func backward(dTable: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, ids: UnsafePointer<Int32>,
                                rows: Int, width: Int) {
        for n in 0..<rows {
            let destination = dTable + Int(ids[n]) * width
            let source = dy + n * width
            for c in 0..<width { destination[c] += source[c] }
        }
    }
}

public enum PositionalEmbedding {
    /// y[b, t, :] += pos[t, :] for t in 0..<tokens.
    public static func forward(y: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>,
                               batch: Int, tokens: Int, width: Int) {
        for b in 0..<batch {
            for t in 0..<tokens {
                let row = y + (b * tokens + t) * width
                let position = table + t * width
                for c in 0..<width { row[c] += position[c] }
            }
        }
    }

    /// In the forward pass this was `y[b, t] += pos[t]`: `dpos[t] += sum_b dy[b, t]`.
    public static func backward(dTable: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                batch: Int, tokens: Int, width: Int) {
        for b in 0..<batch {
            for t in 0..<tokens {
                let row = dy + (b * tokens + t) * width
                let position = dTable + t * width
                for c in 0..<width { position[c] += row[c] }
            }
        }
    }
}
