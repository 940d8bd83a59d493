import Numerics

/// The mean cross-entropy of a global batch of N rows, computed on one rank's n rows so that the ranks'
/// losses and gradients sum to the global ones:
/// ```
/// loss_r    = (1/N) sum_{rows of r} -log softmax(logits[n])[t_n]          logits: (n, C)
/// dlogits_r = (softmax(logits) - onehot(t)) / N                           (overwritten)
/// ```
final class ShardedCrossEntropy {
    let rowCapacity: Int
    let columnCapacity: Int
    let probabilities: UnsafeMutablePointer<Float>
    let dLogits: UnsafeMutablePointer<Float>

    init(rowCapacity: Int, columnCapacity: Int) {
        self.rowCapacity = rowCapacity
        self.columnCapacity = columnCapacity
        probabilities = .allocate(capacity: rowCapacity * columnCapacity)
        dLogits = .allocate(capacity: rowCapacity * columnCapacity)
    }

    deinit {
        probabilities.deallocate()
        dLogits.deallocate()
    }

    /// Returns this rank's share of the loss and leaves dloss/dlogits in `dLogits` (n, C).
    func forwardBackward(logits: UnsafePointer<Float>, targets: [Int32], rows: Int, columns: Int,
                         globalRows: Int) -> Float {
        precondition(rows <= rowCapacity && columns <= columnCapacity && targets.count == rows,
                     "cross-entropy of \(rows) x \(columns) in \(rowCapacity) x \(columnCapacity)")
        guard rows > 0 else { return 0 }
        let share = Float(rows) / Float(globalRows)
        let mean = targets.withUnsafeBufferPointer { t in
            CrossEntropy.forward(probabilities: probabilities, logits: logits, targets: t.baseAddress!,
                                 rows: rows, columns: columns)
        }
        dLogits.update(repeating: 0, count: rows * columns)
        targets.withUnsafeBufferPointer { t in
            CrossEntropy.backward(dLogits: dLogits, probabilities: probabilities, targets: t.baseAddress!,
                                  rows: rows, columns: columns, dLoss: share)
        }
        return mean * share
    }
}
