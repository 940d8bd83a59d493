import Foundation

/// CLIP's symmetric contrastive (InfoNCE) loss on L2-normalised embeddings, with a learnable
/// temperature stored as its logarithm (`logit_scale` in CLIP).
///
/// ```
/// s = exp(logScale);  logits = s * I T^T                     I, T: (N, E) normalised   logits: (N, N)
/// loss = ( CE(logits, 0..<N) + CE(logits^T, 0..<N) ) / 2     (Radford et al. 2021, Fig. 3)
/// ```
/// The caller owns a `Workspace` (four (N, N) matrices and the targets) so no step allocates.
/// `backward` accumulates (`+=`) into dI and dT and returns dloss/dlogScale.
public enum ContrastiveLoss {
    public struct Workspace {
        public let capacity: Int
        let logits: UnsafeMutablePointer<Float>
        let imageProbabilities: UnsafeMutablePointer<Float>
        let textProbabilities: UnsafeMutablePointer<Float>
        let logitGradient: UnsafeMutablePointer<Float>
        let targets: UnsafeMutablePointer<Int32>

        /// Room for up to `capacity` pairs.
        public init(capacity: Int) {
            self.capacity = capacity
            logits = .allocate(capacity: capacity * capacity)
            imageProbabilities = .allocate(capacity: capacity * capacity)
            textProbabilities = .allocate(capacity: capacity * capacity)
            logitGradient = .allocate(capacity: capacity * capacity)
            targets = .allocate(capacity: capacity)
            for i in 0..<capacity { targets[i] = Int32(i) }
        }

        /// Bytes of the buffers (for memory reports).
        public var byteCount: Int {
            4 * capacity * capacity * MemoryLayout<Float>.stride + capacity * MemoryLayout<Int32>.stride
        }

        /// Frees the buffers (the workspace is a value owned by one model; call once).
        public func deallocate() {
            logits.deallocate(); imageProbabilities.deallocate(); textProbabilities.deallocate(); logitGradient.deallocate()
            targets.deallocate()
        }
    }

    /// Returns the loss; keeps logits and both directions' probabilities in the workspace.
    public static func forward(_ backend: Gemm.Backend = .blas, workspace: Workspace,
                               image: UnsafePointer<Float>, text: UnsafePointer<Float>,
                               count: Int, width: Int, logScale: Float) -> Float {
        precondition(count <= workspace.capacity, "contrastive batch \(count) exceeds workspace \(workspace.capacity)")
        let scale = exp(logScale)
        Gemm.multiply(backend, transposeA: false, transposeB: true, m: count, n: count, k: width, alpha: scale,
                      a: image, lda: width, b: text, ldb: width, beta: 0, c: workspace.logits, ldc: count)
        let imageToText = CrossEntropy.forward(probabilities: workspace.imageProbabilities, logits: workspace.logits,
                                               targets: workspace.targets, rows: count, columns: count)
        let textToImage = CrossEntropy.forward(probabilities: workspace.textProbabilities, logits: workspace.logits,
                                               targets: workspace.targets, rows: count, columns: count, transposed: true)
        return (imageToText + textToImage) / 2
    }

    /// In the forward pass this was `loss = (CE(s I T^T) + CE(s T I^T)) / 2`. With G = dloss/dlogits:
    /// ```
    /// dI += s G T;   dT += s G^T I;   dloss/dlogScale = sum(G * logits)
    /// ```
    public static func backward(_ backend: Gemm.Backend = .blas, workspace: Workspace,
                                dImage: UnsafeMutablePointer<Float>, dText: UnsafeMutablePointer<Float>,
                                image: UnsafePointer<Float>, text: UnsafePointer<Float>,
                                count: Int, width: Int, logScale: Float, dLoss: Float = 1) -> Float {
        let scale = exp(logScale)
        let gradient = workspace.logitGradient
        gradient.update(repeating: 0, count: count * count)
        CrossEntropy.backward(dLogits: gradient, probabilities: workspace.imageProbabilities, targets: workspace.targets,
                              rows: count, columns: count, dLoss: dLoss / 2)
        CrossEntropy.backward(dLogits: gradient, probabilities: workspace.textProbabilities, targets: workspace.targets,
                              rows: count, columns: count, dLoss: dLoss / 2, transposed: true)
        var dLogScale: Float = 0
        for i in 0..<count * count { dLogScale += gradient[i] * workspace.logits[i] }
        Gemm.multiply(backend, transposeA: false, transposeB: false, m: count, n: width, k: count, alpha: scale,
                      a: gradient, lda: count, b: text, ldb: width, beta: 1, c: dImage, ldc: width)
        Gemm.multiply(backend, transposeA: true, transposeB: false, m: count, n: width, k: count, alpha: scale,
                      a: gradient, lda: count, b: image, ldb: width, beta: 1, c: dText, ldc: width)
        return dLogScale
    }
}
