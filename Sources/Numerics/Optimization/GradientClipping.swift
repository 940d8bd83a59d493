/// Clipping of the flat gradient buffer by its global L2 norm, as `torch.nn.utils.clip_grad_norm_`.
public enum GradientClipping {
    /// Scales `gradients` down in place when their L2 norm exceeds `maxNorm`; returns the norm before clipping.
    /// ```
    /// norm  = sqrt(sum_i g_i^2)                 (accumulated in Double)
    /// scale = maxNorm / (norm + 1e-6)
    /// g     = g * scale                          only when scale < 1
    /// ```
    /// Run it after the all-reduce, on the summed gradient, so every rank clips by the same norm.
    @discardableResult
    public static func clipGlobalNorm(_ gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float {
        let norm = Double(self.norm(gradients, count: count))
        let scale = Double(maxNorm) / (norm + 1e-6)
        if scale < 1 {
            let factor = Float(scale)
            for i in 0..<count { gradients[i] *= factor }
        }
        return Float(norm)
    }

    /// The L2 norm of `gradients`, accumulated in Double: sqrt(sum_i g_i^2).
    public static func norm(_ gradients: UnsafePointer<Float>, count: Int) -> Float {
        var sumOfSquares = 0.0
        for i in 0..<count { sumOfSquares += Double(gradients[i]) * Double(gradients[i]) }
        return Float(sumOfSquares.squareRoot())
    }
}
