import CLAPACKE

/// The R factor of a tall matrix whose rows arrive in blocks, kept in Double: NSP2's compressed statistics
/// (a head's image-token queries Q_h, never stored whole).
///
/// ```
/// X = [X_1 ; X_2 ; ...]                     (rows so far x n), blocks appended one by one
/// R <- the R of QR([R ; X_t])               (min(rows so far, n) x n, upper trapezoidal, row-major)
/// R^T R = X^T X = sum_t X_t^T X_t           so R has X's singular values and right singular vectors
/// ```
/// Each append costs a QR of (r + rows_t) x n (LAPACKE dgeqrf): for a d_h = 64 wide head this is the
/// (D / d_h)^2-fold saving over accumulating D x D Grams that DESIGN.md ("Null space") counts on.
/// Two factors merge the same way (`append(factor:)`), which is how ranks' and tasks' statistics combine.
public struct StreamingQR: Sendable, Equatable {
    public let columns: Int
    /// R, `factorRows` x `columns`, row-major; zero below the diagonal.
    public private(set) var factor: [Double] = []
    /// min(rows seen, columns).
    public private(set) var factorRows = 0
    /// Rows appended so far (a merged factor counts the rows of both).
    public private(set) var rowsSeen = 0

    public init(columns: Int) {
        precondition(columns > 0, "StreamingQR: \(columns) columns")
        self.columns = columns
    }

    /// Appends `count` rows of Float32, row r at `rows + r * rowStride` (`columns` values each): a head's
    /// slice of packed q|k|v rows, for instance.
    public mutating func append(rows: UnsafePointer<Float>, count: Int, rowStride: Int) throws {
        guard count > 0 else { return }
        var block = [Double](repeating: 0, count: count * columns)
        for r in 0..<count {
            for j in 0..<columns { block[r * columns + j] = Double(rows[r * rowStride + j]) }
        }
        try append(block: block, count: count, rowsRepresented: count)
    }

    /// Appends another factor of the same width (another rank's or an earlier task's statistics).
    public mutating func append(factor other: StreamingQR) throws {
        precondition(other.columns == columns, "StreamingQR: merging \(other.columns) columns into \(columns)")
        guard other.factorRows > 0 else { return }
        try append(block: other.factor, count: other.factorRows, rowsRepresented: other.rowsSeen)
    }

    /// Stacks [R ; block] and keeps the R of its QR.
    private mutating func append(block: [Double], count: Int, rowsRepresented: Int) throws {
        let m = factorRows + count, n = columns
        var stacked = factor + block
        var tau = [Double](repeating: 0, count: min(m, n))
        let info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), &stacked, Int32(n), &tau)
        guard info == 0 else { throw NullSpaceError("dgeqrf of a \(m) x \(n) stack failed with info = \(info)") }
        factorRows = min(m, n)
        factor = Array(stacked[0..<(factorRows * n)])
        for i in 0..<factorRows { for j in 0..<i { factor[i * n + j] = 0 } }
        rowsSeen += rowsRepresented
    }
}
