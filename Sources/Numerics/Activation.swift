import Foundation

/// The MLP activations of CLIP's encoder layers, element-wise, forward and backward side by side.
///
/// ```
/// quick_gelu(x) = x * sigmoid(1.702 x)                         (OpenAI CLIP)
/// gelu(x)       = 0.5 x (1 + erf(x / sqrt(2)))                  (exact, as torch.nn.functional.gelu)
/// ```
/// The raw values name them as Hugging Face's `hidden_act` does.
/// `backward` accumulates: `dx += dy * f'(x)`. Both run in blocks over the kernel threads; quick GELU eight
/// elements at a time through `VectorExp`, exact GELU one at a time through glibc's `erff` and `expf`.
public enum Activation: String, Sendable, CaseIterable {
    case quickGELU = "quick_gelu"
    case gelu = "gelu"

    /// y[i] = f(x[i]) for i in 0..<count. `y` may alias `x`.
    public func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        switch self {
        case .quickGELU:
            parallelBlocks(count, cost: 8) { range in
                let body = range.lowerBound + (range.count - range.count % 8)
                for i in stride(from: range.lowerBound, to: body, by: 8) {
                    let v = x.vector(at: i)
                    y.store(v / (1 + VectorExp.exp(-1.702 * v)), at: i)
                }
                for i in body..<range.upperBound {
                    let v = x[i]
                    y[i] = v / (1 + VectorExp.exp(-1.702 * v))
                }
            }
        case .gelu:
            let invSqrt2: Float = 0.70710678118654752
            parallelBlocks(count, cost: 8) { range in
                for i in range {
                    let v = x[i]
                    y[i] = 0.5 * v * (1 + erff(v * invSqrt2))
                }
            }
        }
    }

    /// dx[i] += dy[i] * f'(x[i]) (dx[i] = ... with `write: .overwrite`); in the forward pass this was `y = f(x)`.
    public func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, count: Int,
                         write: GradientWrite = .accumulate) {
        switch self {
        case .quickGELU:
            // d/dx [x s(ax)] = s(ax) + a x s(ax) (1 - s(ax)),  a = 1.702
            parallelBlocks(count, cost: 8) { range in
                let body = range.lowerBound + (range.count - range.count % 8)
                for i in stride(from: range.lowerBound, to: body, by: 8) {
                    let v = x.vector(at: i)
                    let s = 1 / (1 + VectorExp.exp(-1.702 * v))
                    let gradient = dy.vector(at: i) * (s + 1.702 * v * s * (1 - s))
                    dx.store(write == .accumulate ? dx.vector(at: i) + gradient : gradient, at: i)
                }
                for i in body..<range.upperBound {
                    let v = x[i]
                    let s = 1 / (1 + VectorExp.exp(-1.702 * v))
                    let gradient = dy[i] * (s + 1.702 * v * s * (1 - s))
                    dx[i] = write == .accumulate ? dx[i] + gradient : gradient
                }
            }
        case .gelu:
            // d/dx [0.5 x (1 + erf(x/sqrt2))] = 0.5 (1 + erf(x/sqrt2)) + x * exp(-x^2/2) / sqrt(2 pi)
            let invSqrt2: Float = 0.70710678118654752
            let invSqrt2Pi: Float = 0.39894228040143268
            parallelBlocks(count, cost: 8) { range in
                for i in range {
                    let v = x[i]
                    let cdf = 0.5 * (1 + erff(v * invSqrt2))
                    let gradient = dy[i] * (cdf + v * expf(-0.5 * v * v) * invSqrt2Pi)
                    dx[i] = write == .accumulate ? dx[i] + gradient : gradient
                }
            }
        }
    }
}
