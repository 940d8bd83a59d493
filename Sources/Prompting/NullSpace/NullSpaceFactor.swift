/// The merged statistics of one consistency condition of one prompted layer (Omega1's channels or Omega2's
/// prompt tokens), over every task collected so far and every rank, as the SVD of the stacked rows:
///
/// ```
/// Omega = [Omega_task0 ; Omega_task1 ; ...]          (rows x n), never stored
/// Omega = U diag(s) V^T                              s: r = min(rows, n) values, descending; V^T: (r, n)
/// stackedRows = diag(s) V^T                          (r, n), with stackedRows^T stackedRows = Omega^T Omega
/// ```
/// Merging the next task stacks `stackedRows` over the new task's factors and takes the SVD again (the
/// official code's `--null_interm_accum sum`: C = C_old + C_new). Nothing here depends on the number of ranks,
/// so a checkpoint of it resumes on any rank count.
///
/// The official code selects the null space on the spectrum of the uncentred covariance C = Omega^T Omega / rows
/// (`torch.linalg.svd(C)`), whose singular values are s^2 / rows: `projector` applies the selection to s^2
/// (the 1 / rows scale does not move either rule's choice; the official per-batch normalisation differs from it
/// only by a partial last batch's weight).
public struct NullSpaceFactor: Sendable, Equatable {
    /// n: the dimension of the condition (D for channels, L for prompt tokens).
    public let columns: Int
    /// s, descending.
    public let singularValues: [Double]
    /// V^T, (s.count, n) row-major, orthonormal rows.
    public let rightSingularVectors: [Double]
    /// Rows of Omega behind the factor (samples x image tokens x heads, summed over tasks).
    public let rowsSeen: Int

    public init(columns: Int, singularValues: [Double], rightSingularVectors: [Double], rowsSeen: Int) throws {
        guard columns > 0, singularValues.count <= columns,
              rightSingularVectors.count == singularValues.count * columns else {
            throw NullSpaceError("null-space factor: \(singularValues.count) singular values and "
                                 + "\(rightSingularVectors.count) vector values for dimension \(columns)")
        }
        self.columns = columns
        self.singularValues = singularValues
        self.rightSingularVectors = rightSingularVectors
        self.rowsSeen = rowsSeen
    }

    /// diag(s) V^T, (s.count, n) row-major: the rows that stand for every row of Omega seen so far.
    public var stackedRows: [Double] {
        var rows = rightSingularVectors
        for (i, s) in singularValues.enumerated() {
            for j in 0..<columns { rows[i * columns + j] *= s }
        }
        return rows
    }

    /// P = eta B + (1 - eta) I of this condition, its null space chosen by `selection` on the covariance
    /// spectrum s^2 (zeros for the right singular vectors a thin factor lacks).
    public func projector(selection: NullSpaceSelection, eta: Double,
                          scaling: NullSpaceProjector.Scaling) throws -> NullSpaceProjector {
        try NullSpaceProjector(singularValues: singularValues.map { $0 * $0 }, rightSingularVectors: rightSingularVectors,
                               dimension: columns, selection: selection, eta: eta, scaling: scaling)
    }
}

/// Both conditions' factors of one prompted layer.
public struct LayerNullSpaceFactors: Sendable, Equatable {
    /// The vision layer the prompt enters.
    public let layer: Int
    /// From Omega1 = [Q_1 W_k,1 ; ... ; Q_H W_k,H]: n = D.
    public let channel: NullSpaceFactor
    /// From Omega2 = [S_P,1 ; ... ; S_P,H]: n = L.
    public let token: NullSpaceFactor

    public init(layer: Int, channel: NullSpaceFactor, token: NullSpaceFactor) {
        self.layer = layer
        self.channel = channel
        self.token = token
    }
}
