/// The fixed-point bicubic weights Pillow resamples one axis of an 8-bit image with (`Image.resize(...,
/// Image.BICUBIC)`, `precompute_coeffs` and `normalize_coeffs_8bpc` in Pillow's `src/libImaging/Resample.c`),
/// computed in the same order and the same double-precision arithmetic so that results are bit-exact.
///
/// Output sample o of an axis scaled from `inputSize` to `outputSize` reads input samples
/// `first[o] ..< first[o] + count[o]`:
/// ```
/// scale   = inputSize / outputSize,   filterScale = max(scale, 1),   support = 2 * filterScale
/// centre  = (o + 0.5) * scale
/// first   = max(0, trunc(centre - support + 0.5)),   end = min(inputSize, trunc(centre + support + 0.5))
/// w[i]    = bicubic((first + i - centre + 0.5) / filterScale),   then w[i] /= sum(w)
/// k[i]    = trunc(w[i] * 2^22 +- 0.5)                            (rounded away from zero)
/// bicubic(x) = 1.5|x|^3 - 2.5|x|^2 + 1                  |x| < 1      (Keys' cubic convolution, a = -0.5)
///              -0.5 (|x|^3 - 5|x|^2 + 8|x| - 4)         1 <= |x| < 2
/// value   = clamp((2^21 + sum_i input[first + i] * k[i]) >> 22, 0, 255)
/// ```
/// The support widens with the downscale factor (antialiasing); upscaling keeps it at 2.
struct PillowBicubicWeights {
    /// Fraction bits of the weights (Pillow's `PRECISION_BITS`: 32 - 8 - 2).
    static let precisionBits = 22

    /// Weights per output sample: the row stride of `weights` (Pillow's `ksize`).
    let taps: Int
    /// First input sample read by output sample o.
    let first: [Int]
    /// Number of input samples read by output sample o (at most `taps`).
    let count: [Int]
    /// (outputSize, taps) fixed-point weights; entries past `count[o]` are zero.
    let weights: [Int32]

    init(inputSize: Int, outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0, "resampling \(inputSize) samples to \(outputSize)")
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        self.taps = taps
        var first = [Int](repeating: 0, count: outputSize)
        var count = [Int](repeating: 0, count: outputSize)
        var weights = [Int32](repeating: 0, count: outputSize * taps)
        var w = [Double](repeating: 0, count: taps)
        let one = Double(1 << Self.precisionBits)
        for o in 0..<outputSize {
            let centre = (Double(o) + 0.5) * scale
            let inverse = 1 / filterScale
            let start = max(0, Int(centre - support + 0.5))
            let n = min(inputSize, Int(centre + support + 0.5)) - start
            var sum = 0.0
            for i in 0..<n {
                w[i] = Self.bicubic((Double(i + start) - centre + 0.5) * inverse)
                sum += w[i]
            }
            for i in 0..<n {
                let normalised = sum != 0 ? w[i] / sum : w[i]
                weights[o * taps + i] = Int32(normalised < 0 ? -0.5 + normalised * one : 0.5 + normalised * one)
            }
            first[o] = start
            count[o] = n
        }
        self.first = first
        self.count = count
        self.weights = weights
    }

    /// Keys' cubic convolution kernel with a = -0.5, written as Pillow's `bicubic_filter` evaluates it.
    static func bicubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Output sample o from the input samples `input[offset + i * stride]`, i in `first[o] ..< first[o] + count[o]`:
    /// the fixed-point sum, rounded and clamped to 0...255 as Pillow's `clip8` does.
    @inline(__always)
    func sample(_ o: Int, _ input: UnsafePointer<UInt8>, offset: Int, stride: Int) -> UInt8 {
        var sum = 1 << (Self.precisionBits - 1)
        let base = o * taps
        var index = offset + first[o] * stride
        for i in 0..<count[o] {
            sum += Int(input[index]) * Int(weights[base + i])
            index += stride
        }
        return UInt8(clamping: sum >> Self.precisionBits)
    }
}
