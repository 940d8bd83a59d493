import Numerics

/// LPI's low-rank (CP, CANDECOMP/PARAFAC) composition of a 3-way tensor from three factor matrices: the
/// "Low-rank Interaction Decomposition" of a task's prompts (and of CPF's projection weights).
///
/// ```
/// P[i][j][k] = AVG_rho(A[i,rho] B[j,rho] C[k,rho]) = 1/r sum_rho A[i,rho] B[j,rho] C[k,rho]
/// A: (I, r)   B: (J, r)   C: (K, r)   P: (I, J, K), all row-major
/// ```
/// LPI, eq. 3 (section 4.1). Prompts: A = D1 (layers, r) shared by the two modalities, B = D2 (tokens, r) and
/// C = D3 (width, r) per modality; the official retrieval code (`DecomposedPrompt` in
/// retrieval/models/prompts/prompts.py) builds the same tensor with r = 4 as a broadcast product averaged over r.
///
/// Fast path, with KR the Khatri-Rao product of B and C, (J*K, r):
/// ```
/// KR[(j,k), rho] = B[j,rho] C[k,rho]
/// P (I, J*K)     = 1/r A KR^T                       one GEMM
/// ```
/// Scratch: J*K*r floats (forward) or twice that (backward), allocated per call.
/// `forwardNaive` and `backwardNaive` evaluate the sums as written (in Double), as the algorithmic reference the
/// tests hold the GEMM path against.
///
/// `forward` writes P (`=`); `backward` accumulates (`+=`) into dA, dB and dC, so that the visual and the textual
/// prompt can both add their gradient to the shared factor D1.
public enum CPComposition {
    /// The sizes of one composition: P (i, j, k) from rank-`rank` factors.
    public struct Shape: Sendable, Equatable, Hashable {
        /// I: rows of A, first dimension of P (layers).
        public let i: Int
        /// J: rows of B, second dimension of P (tokens).
        public let j: Int
        /// K: rows of C, third dimension of P (channels).
        public let k: Int
        /// r: the factors' columns.
        public let rank: Int

        public init(i: Int, j: Int, k: Int, rank: Int) {
            precondition(i > 0 && j > 0 && k > 0 && rank > 0, "CP shape (\(i), \(j), \(k)) of rank \(rank)")
            self.i = i
            self.j = j
            self.k = k
            self.rank = rank
        }

        /// I * J * K: the floats of P.
        public var count: Int { i * j * k }
        /// I * r: the floats of A.
        public var aCount: Int { i * rank }
        /// J * r: the floats of B.
        public var bCount: Int { j * rank }
        /// K * r: the floats of C.
        public var cCount: Int { k * rank }
    }

    // MARK: Forward

    /// Writes P = 1/r sum_rho A[:,rho] (x) B[:,rho] (x) C[:,rho] into `p` (shape.count floats), by one GEMM.
    public static func forward(
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>,
        shape: Shape, into p: UnsafeMutablePointer<Float>
    ) {
        let (jk, r) = (shape.j * shape.k, shape.rank)
        let kr = UnsafeMutablePointer<Float>.allocate(capacity: jk * r)
        defer { kr.deallocate() }
        fillKhatriRao(b: b, c: c, shape: shape, into: kr)
        // P (I, JK) = 1/r A (I, r) KR^T (r, JK)
        Gemm.multiply(.blas, transposeA: false, transposeB: true, m: shape.i, n: jk, k: r,
                      alpha: 1 / Float(r), a: a, lda: r, b: kr, ldb: r, beta: 0, c: p, ldc: jk)
    }

    /// The reference: every P[i][j][k] as the rank sum, in Double.
    public static func forwardNaive(
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>,
        shape: Shape, into p: UnsafeMutablePointer<Float>
    ) {
        let r = shape.rank
        for i in 0..<shape.i {
            for j in 0..<shape.j {
                for k in 0..<shape.k {
                    var sum = 0.0
                    for rho in 0..<r {
                        sum += Double(a[i * r + rho]) * Double(b[j * r + rho]) * Double(c[k * r + rho])
                    }
                    p[(i * shape.j + j) * shape.k + k] = Float(sum / Double(r))
                }
            }
        }
    }

    // MARK: Backward

    /// Adds dL/dA, dL/dB, dL/dC to `dA`, `dB`, `dC` given dL/dP (`+=`).
    ///
    /// ```
    /// in the forward pass this was: P[i][j][k] = 1/r sum_rho A[i,rho] B[j,rho] C[k,rho]
    /// dA (I, r)  += 1/r dP (I, JK) KR (JK, r)          GEMM
    /// T  (JK, r)  = 1/r dP^T (JK, I) A (I, r)          GEMM: T[(j,k),rho] = 1/r sum_i dP[i][j][k] A[i,rho]
    /// dB[j,rho]  += sum_k T[(j,k),rho] C[k,rho]
    /// dC[k,rho]  += sum_j T[(j,k),rho] B[j,rho]
    /// ```
    public static func backward(
        dP: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>,
        shape: Shape, dA: UnsafeMutablePointer<Float>, dB: UnsafeMutablePointer<Float>, dC: UnsafeMutablePointer<Float>
    ) {
        let (jk, r) = (shape.j * shape.k, shape.rank)
        let kr = UnsafeMutablePointer<Float>.allocate(capacity: 2 * jk * r)
        defer { kr.deallocate() }
        let t = kr + jk * r
        fillKhatriRao(b: b, c: c, shape: shape, into: kr)
        Gemm.multiply(.blas, transposeA: false, transposeB: false, m: shape.i, n: r, k: jk,
                      alpha: 1 / Float(r), a: dP, lda: jk, b: kr, ldb: r, beta: 1, c: dA, ldc: r)
        Gemm.multiply(.blas, transposeA: true, transposeB: false, m: jk, n: r, k: shape.i,
                      alpha: 1 / Float(r), a: dP, lda: jk, b: a, ldb: r, beta: 0, c: t, ldc: r)
        for j in 0..<shape.j {
            for k in 0..<shape.k {
                let row = t + (j * shape.k + k) * r
                for rho in 0..<r {
                    dB[j * r + rho] += row[rho] * c[k * r + rho]
                    dC[k * r + rho] += row[rho] * b[j * r + rho]
                }
            }
        }
    }

    /// The reference: dP[i][j][k] / r spread onto the three factors term by term, summed in Double.
    public static func backwardNaive(
        dP: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>,
        shape: Shape, dA: UnsafeMutablePointer<Float>, dB: UnsafeMutablePointer<Float>, dC: UnsafeMutablePointer<Float>
    ) {
        let r = shape.rank
        var gradA = [Double](repeating: 0, count: shape.aCount)
        var gradB = [Double](repeating: 0, count: shape.bCount)
        var gradC = [Double](repeating: 0, count: shape.cCount)
        for i in 0..<shape.i {
            for j in 0..<shape.j {
                for k in 0..<shape.k {
                    let g = Double(dP[(i * shape.j + j) * shape.k + k]) / Double(r)
                    for rho in 0..<r {
                        let (x, y, z) = (Double(a[i * r + rho]), Double(b[j * r + rho]), Double(c[k * r + rho]))
                        gradA[i * r + rho] += g * y * z
                        gradB[j * r + rho] += g * x * z
                        gradC[k * r + rho] += g * x * y
                    }
                }
            }
        }
        for n in 0..<shape.aCount { dA[n] += Float(gradA[n]) }
        for n in 0..<shape.bCount { dB[n] += Float(gradB[n]) }
        for n in 0..<shape.cCount { dC[n] += Float(gradC[n]) }
    }

    /// KR[(j,k), rho] = B[j,rho] C[k,rho], (J*K, r).
    private static func fillKhatriRao(
        b: UnsafePointer<Float>, c: UnsafePointer<Float>, shape: Shape, into kr: UnsafeMutablePointer<Float>
    ) {
        let r = shape.rank
        for j in 0..<shape.j {
            for k in 0..<shape.k {
                let row = kr + (j * shape.k + k) * r
                for rho in 0..<r { row[rho] = b[j * r + rho] * c[k * r + rho] }
            }
        }
    }
}
