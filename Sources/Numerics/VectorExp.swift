/// exp(x) on eight floats at once, for the element-wise kernels (softmax, the MLP activation), with the
/// lanes in SIMD registers: SSE2 at baseline x86-64, where glibc's `expf` runs one element at a time.
///
/// ```
/// x = clamp(x, lo, hi);   n = round(x / ln 2);   r = x - n ln 2            (ln 2 = C1 + C2, Cody-Waite)
/// exp(x) = 2^n (1 + r + r^2 p(r)),   p a degree-5 minimax polynomial on |r| <= ln 2 / 2   (Cephes expf)
/// ```
/// Relative error under 1e-7 of e^x (Double) from -87 to 88 (`VectorExpTests` measured 7.9e-8). Lanes below
/// lo = -87.3 (where e^x would be subnormal) give exactly 0, so a masked -infinity gives probability 0; lanes
/// above hi = 88.3 give e^88.3 ~ 2.2e38 (finite); NaN stays NaN.
public enum VectorExp {
    public typealias Vector = SIMD8<Float>

    static let low: Float = -87.3
    static let high: Float = 88.3

    /// e^x in every lane.
    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        // compare-and-select: `clamped(lowerBound:upperBound:)` and `pointwiseMin` run lane by lane (NaN rules)
        var clamped = x
        clamped.replace(with: low, where: x .< low)
        clamped.replace(with: high, where: x .> high)
        // round to nearest by adding 1.5 * 2^23: the sum's low mantissa bits then hold n + 2^22
        let shifter: Float = 12_582_912
        let shifted = clamped * 1.44269504088896341 + shifter
        let n = shifted - shifter
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        var p = Vector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let expR = p * (r * r) + r + 1
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- Int32(bitPattern: shifter.bitPattern)
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: Vector.self)
        var result = expR * scale
        result.replace(with: 0, where: x .< low)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// e^x of one float through the same lanes (for the tails of loops), so a tail matches the body.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        exp(Vector(repeating: x))[0]
    }
}
