import Foundation

/// `scipy.ndimage.gaussian_filter1d(values, sigma)` with its defaults (order 0, mode 'reflect', truncate 4),
/// computed the way scipy computes it so that NSP2's adaptive threshold sees the same curve.
///
/// ```
/// radius r = Int(truncate * sigma + 0.5)                           (40 for sigma = 10)
/// w[j]     = exp(-0.5 / sigma^2 * j^2) / sum_{|i| <= r} exp(-0.5 / sigma^2 * i^2),   j = -r...r
/// out[i]   = x[i] w[0] + sum_{j = r...1} (x[i - j] + x[i + j]) w[j]
/// x[-1 - i] = x[i], x[n + i] = x[n - 1 - i]                        ('reflect': d c b a | a b c d | d c b a)
/// ```
/// The normalising sum runs as numpy's pairwise sum does for fewer than 128 terms (eight interleaved partial
/// sums, then the rest in order), and the symmetric correlation pairs the outermost taps first, as scipy's
/// `NI_Correlate1D` does for a symmetric kernel; on the fixtures (Tests/Fixtures/make_nullspace_fixtures.py)
/// the output equals scipy's to the last bit or within a few ulps.
public enum GaussianSmoothing {
    /// The smoothed copy of `values` (n >= 1), Double throughout.
    public static func filter(_ values: [Double], sigma: Double, truncate: Double = 4) -> [Double] {
        precondition(sigma > 0, "sigma \(sigma) must be positive")
        let n = values.count
        precondition(n > 0, "nothing to smooth")
        let weights = kernel(sigma: sigma, radius: Int(truncate * sigma + 0.5))
        let radius = weights.count - 1
        return values.withUnsafeBufferPointer { x in
            (0..<n).map { i in
                var sum = x[i] * weights[0]
                for j in stride(from: radius, through: 1, by: -1) {
                    sum += (x[reflect(i - j, n)] + x[reflect(i + j, n)]) * weights[j]
                }
                return sum
            }
        }
    }

    /// The normalised taps `w[0...radius]` (the kernel is symmetric: w[-j] = w[j]).
    static func kernel(sigma: Double, radius: Int) -> [Double] {
        let scale = -0.5 / (sigma * sigma)
        // phi over x = -radius...radius, as numpy lays it out, summed as numpy sums it.
        let phi = (-radius...radius).map { exp(scale * Double($0 * $0)) }
        let total = pairwiseSum(phi)
        return (0...radius).map { phi[radius + $0] / total }
    }

    /// numpy's `pairwise_sum` for one block (fewer than 128 terms): eight running sums over the first
    /// multiple of 8 terms, combined ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest in order.
    static func pairwiseSum(_ values: [Double]) -> Double {
        let n = values.count
        precondition(n < 128, "pairwiseSum implements numpy's single block only (n = \(n))")
        if n < 8 { return values.reduce(0, +) }
        var r = Array(values[0..<8])
        let whole = n - n % 8
        for i in stride(from: 8, to: whole, by: 8) {
            for j in 0..<8 { r[j] += values[i + j] }
        }
        var sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in whole..<n { sum += values[i] }
        return sum
    }

    /// The index 'reflect' mode reads for position `i` of a line of `n` values (period 2n).
    private static func reflect(_ i: Int, _ n: Int) -> Int {
        let period = 2 * n
        var j = i % period
        if j < 0 { j += period }
        return j < n ? j : period - 1 - j
    }
}
