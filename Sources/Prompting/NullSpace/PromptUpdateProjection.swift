import Numerics

/// NSP2's projection of the optimiser's update onto the null space of the previous tasks' statistics, layer by
/// layer, in place in the flat update buffer:
///
/// ```
/// for each prompted layer, slice (L, D) at offset o of the update buffer:
///   dP = update[o ..< o + L D]                     (L, D) row-major
///   T  = P2 . dP                                   (L, L) x (L, D)
///   dP <- T . P1                                   (L, D) x (D, D)
/// ```
/// P2 = eta2 B2 + (1 - eta2) I from Omega2 (prompt keys against image queries), P1 = eta1 B1 + (1 - eta1) I from
/// Omega1 (`NullSpaceProjector`); with eta = 1 and plain projectors, Omega1 dP^T = 0 and Omega2 dP = 0 hold for
/// the new update, the paper's two consistency conditions. Floats outside the slices are left as they are.
///
/// The official code does this inside its Adam (`utils/mod_adam.py`, `_multi_tensor_adam`:
/// `torch.matmul(torch.matmul(_proj2, _up.squeeze(0)), _proj1)`) on the final update, -lr m^ / (sqrt(v^) + eps),
/// so Adam's moments keep the unprojected gradient; here it is the `transformUpdate` hook of
/// `Optimizer.step`: `optimizer.step(parameters:gradients:lr:transformUpdate: { projection.apply(to: $0, count: $1) })`.
/// It starts with the second task (no statistics exist before).
///
/// `.blas` runs the two products through `Gemm` (cblas_sgemm); `.naive` is the algorithmic reference, two loops
/// accumulating in Double. One scratch buffer of max(L D) floats is allocated here; `apply` allocates nothing.
public final class PromptUpdateProjection {
    /// One prompted layer: where its prompt lies and its two projectors.
    public struct Layer: Sendable {
        public let slice: PromptSlice
        /// P2, (L, L) row-major.
        public let tokenProjector: [Float]
        /// P1, (D, D) row-major.
        public let channelProjector: [Float]

        public init(slice: PromptSlice, tokenProjector: [Float], channelProjector: [Float]) {
            precondition(tokenProjector.count == slice.tokens * slice.tokens,
                         "P2 has \(tokenProjector.count) values, (L, L) = (\(slice.tokens), \(slice.tokens)) needs "
                         + "\(slice.tokens * slice.tokens)")
            precondition(channelProjector.count == slice.width * slice.width,
                         "P1 has \(channelProjector.count) values, (D, D) = (\(slice.width), \(slice.width)) needs "
                         + "\(slice.width * slice.width)")
            self.slice = slice
            self.tokenProjector = tokenProjector
            self.channelProjector = channelProjector
        }

        /// The layer of `slice` with P2 from Omega2's projector (dimension L) and P1 from Omega1's (dimension D).
        public init(slice: PromptSlice, tokenProjector: NullSpaceProjector, channelProjector: NullSpaceProjector) throws {
            guard tokenProjector.dimension == slice.tokens, channelProjector.dimension == slice.width else {
                throw NullSpaceError("prompt (\(slice.tokens), \(slice.width)) at \(slice.offset): projectors of "
                                     + "dimension \(tokenProjector.dimension) (tokens) and "
                                     + "\(channelProjector.dimension) (channels)")
            }
            self.init(slice: slice, tokenProjector: tokenProjector.floats, channelProjector: channelProjector.floats)
        }
    }

    public let layers: [Layer]
    /// (L, D) of the layer being projected: T = P2 . dP.
    private let scratch: UnsafeMutablePointer<Float>

    public init(layers: [Layer]) {
        self.layers = layers
        let capacity = layers.map(\.slice.count).max() ?? 1
        scratch = .allocate(capacity: capacity)
        scratch.initialize(repeating: 0, count: capacity)
    }

    deinit { scratch.deallocate() }

    /// Projects every layer's slice of `update` (`count` floats, the whole flat update buffer) in place.
    public func apply(_ backend: Gemm.Backend = .blas, to update: UnsafeMutablePointer<Float>, count: Int) {
        for layer in layers {
            let (l, d, offset) = (layer.slice.tokens, layer.slice.width, layer.slice.offset)
            precondition(offset + l * d <= count, "prompt (\(l), \(d)) at \(offset) overruns the \(count)-float update")
            let dP = update + offset
            layer.tokenProjector.withUnsafeBufferPointer { p2 in
                layer.channelProjector.withUnsafeBufferPointer { p1 in
                    switch backend {
                    case .blas:
                        // T = P2 . dP: (L, L) x (L, D)
                        Gemm.blas(transposeA: false, transposeB: false, m: l, n: d, k: l, alpha: 1,
                                  a: p2.baseAddress!, lda: l, b: dP, ldb: d, beta: 0, c: scratch, ldc: d)
                        // dP = T . P1: (L, D) x (D, D)
                        Gemm.blas(transposeA: false, transposeB: false, m: l, n: d, k: d, alpha: 1,
                                  a: scratch, lda: d, b: p1.baseAddress!, ldb: d, beta: 0, c: dP, ldc: d)
                    case .naive:
                        Self.naive(p2: p2.baseAddress!, p1: p1.baseAddress!, dP: dP, scratch: scratch, l: l, d: d)
                    }
                }
            }
        }
    }

    /// The reference: T[i][j] = sum_a P2[i][a] dP[a][j], then dP[i][j] = sum_b T[i][b] P1[b][j], sums in Double.
    private static func naive(p2: UnsafePointer<Float>, p1: UnsafePointer<Float>, dP: UnsafeMutablePointer<Float>,
                              scratch: UnsafeMutablePointer<Float>, l: Int, d: Int) {
        for i in 0..<l {
            for j in 0..<d {
                var sum = 0.0
                for a in 0..<l { sum += Double(p2[i * l + a]) * Double(dP[a * d + j]) }
                scratch[i * d + j] = Float(sum)
            }
        }
        for i in 0..<l {
            for j in 0..<d {
                var sum = 0.0
                for b in 0..<d { sum += Double(scratch[i * d + b]) * Double(p1[b * d + j]) }
                dP[i * d + j] = Float(sum)
            }
        }
    }
}
