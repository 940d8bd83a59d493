/// NSP2's projector for one consistency condition of one prompted layer ("Visual Prompt Tuning in Null Space",
/// Lu et al., NeurIPS 2024): P1 (D x D) from Omega1 = [Q_1 W_k,1; ...; Q_H W_k,H] or P2 (L x L) from
/// Omega2 = [S_P,1; ...; S_P,H], built from the right singular vectors of Omega (or of its covariance, which has
/// the same ones) and the null-space start k (`NullSpaceSelection`).
///
/// ```
/// V^T: (r, n), row i = right singular vector i, r = n (full SVD) or r < n (rows r..<n are null vectors)
/// U0 = rows k..<n of V^T                                   ((n - k), n)  basis of the null space
/// B  = U0^T U0 / ||U0^T U0||_F                             (.frobenius: the official code, our default)
/// B  = U0^T U0                                             (.orthogonal: the orthogonal projector)
/// P  = eta B + (1 - eta) I                                 (n, n), symmetric
/// ```
/// The official code (`train_eval.py`, `get_update_projection_dict`, lines 689-694) forms U0 from the full
/// V^T of `torch.linalg.svd(C, full_matrices=True)`, divides by `torch.norm(B)` (Frobenius) and mixes in the
/// identity with `--null_eta1/2` (0.97 for VPT on 10-split CIFAR-100, 0.98 for CLIP). Since the rows of U0 are
/// orthonormal, ||U0^T U0||_F = sqrt(n - k): the official B is the projector shrunk by 1/sqrt(n - k), so its
/// null-space part scales the update down as the null space grows. eta = 1 with `.orthogonal` is the paper's
/// exact projection: Omega P = 0.
///
/// When r = n, U0^T U0 is summed from rows k..<n; when r < n (a thin SVD), the missing rows are the complement of
/// the given ones, and U0^T U0 = I - V_k^T V_k with V_k the first k rows (needs k <= r). B is summed on its upper
/// triangle and mirrored, so P is exactly symmetric. Double throughout; `floats` is P rounded once to Float for
/// `PromptUpdateProjection`.
public struct NullSpaceProjector: Sendable {
    /// How B is scaled (`.frobenius` is the official code's).
    public enum Scaling: String, Codable, Sendable, CaseIterable {
        case frobenius, orthogonal
    }

    /// n: P is (n, n).
    public let dimension: Int
    /// k: the null space is spanned by right singular vectors k..<n.
    public let nullSpaceStart: Int
    public let eta: Double
    public let scaling: Scaling
    /// P, (n, n) row-major.
    public let matrix: [Double]
    /// P as Float, (n, n) row-major.
    public let floats: [Float]

    /// The null-space dimension n - k.
    public var nullity: Int { dimension - nullSpaceStart }

    /// P from `rows` right singular vectors (`rightSingularVectors`: (rows, dimension) row-major, orthonormal rows
    /// in descending order of singular value) and the start k of the null space.
    public init(rightSingularVectors vt: [Double], rows: Int, dimension n: Int, nullSpaceStart k: Int,
                eta: Double, scaling: Scaling = .frobenius) throws {
        guard n > 0, rows >= 0, rows <= n, vt.count == rows * n else {
            throw NullSpaceError("null-space projector: \(vt.count) values for \(rows) right singular vectors of "
                                 + "dimension \(n) (at most \(n) rows)")
        }
        guard k >= 0, k < n else {
            throw NullSpaceError("null-space projector: start \(k) leaves no null space in dimension \(n)")
        }
        guard k <= rows else {
            throw NullSpaceError("null-space projector: start \(k) lies beyond the \(rows) given singular vectors")
        }
        guard eta >= 0, eta <= 1 else { throw NullSpaceError("null-space projector: eta \(eta) outside [0, 1]") }
        var b = [Double](repeating: 0, count: n * n)
        if rows == n {
            // U0^T U0 = sum_{i >= k} v_i v_i^T
            Self.addOuterProducts(vt, rows: k..<n, n: n, sign: 1, into: &b)
        } else {
            // U0^T U0 = I - sum_{i < k} v_i v_i^T
            for i in 0..<n { b[i * n + i] = 1 }
            Self.addOuterProducts(vt, rows: 0..<k, n: n, sign: -1, into: &b)
        }
        if scaling == .frobenius {
            let norm = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in 0..<(n * n) { b[i] /= norm }
        }
        var p = b.map { eta * $0 }
        for i in 0..<n { p[i * n + i] += 1 - eta }
        dimension = n
        nullSpaceStart = k
        self.eta = eta
        self.scaling = scaling
        matrix = p
        floats = p.map { Float($0) }
    }

    /// P straight from an SVD: chooses k with `selection` on `singularValues` (padded with zeros to `dimension`
    /// when the SVD had fewer, as the null vectors it did not return have singular value 0), then builds P from
    /// the `rightSingularVectors.count / dimension` rows given.
    public init(singularValues: [Double], rightSingularVectors vt: [Double], dimension n: Int,
                selection: NullSpaceSelection, eta: Double, scaling: Scaling = .frobenius) throws {
        guard n > 0, vt.count % n == 0, singularValues.count <= vt.count / n else {
            throw NullSpaceError("null-space projector: \(singularValues.count) singular values and \(vt.count) "
                                 + "vector values do not fit dimension \(n)")
        }
        let padded = singularValues + [Double](repeating: 0, count: n - singularValues.count)
        let k = try selection.startIndex(singularValues: padded)
        try self.init(rightSingularVectors: vt, rows: vt.count / n, dimension: n, nullSpaceStart: k, eta: eta,
                      scaling: scaling)
    }

    /// b += sign * sum_{i in rows} v_i v_i^T (upper triangle, then mirrored, so b stays exactly symmetric).
    private static func addOuterProducts(_ vt: [Double], rows: Range<Int>, n: Int, sign: Double, into b: inout [Double]) {
        vt.withUnsafeBufferPointer { v in
            b.withUnsafeMutableBufferPointer { out in
                for r in rows {
                    let row = r * n
                    for i in 0..<n {
                        let scaled = sign * v[row + i]
                        for j in i..<n { out[i * n + j] += scaled * v[row + j] }
                    }
                }
                for i in 0..<n {
                    for j in 0..<i { out[i * n + j] = out[j * n + i] }
                }
            }
        }
    }
}
