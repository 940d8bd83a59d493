/// Where the null space starts in a spectrum: given the singular values s[0] >= ... >= s[n-1] >= 0 of an
/// uncentred covariance or of a stacked statistics factor (NSP2's Omega1 or Omega2), the index k such that the
/// right singular vectors k..<n span the (approximate) null space.
///
/// Both rules are those of NSP2's official code (zugexiaodui/VPTinNSforCL, `train_eval.py`,
/// `get_update_projection_dict`); `adaptive` with offset 0 is its default and ours.
///
/// Adaptive (`adaptive_threshold`, lines 643-669 there):
/// ```
/// n >= 128:  f  = gaussian_filter1d(s, sigma 10)                    (GaussianSmoothing; s itself for n < 128)
///            c2[i] = f[i] - 2 f[i+1] + f[i+2],  i = 0..<n-2          (second difference)
///            d  = Int(n * 0.03 / 2)                                   (drop 1.5% at each end; 0 for n < 128)
///            i* = argmax_{d <= i < n-2-d} c2[i]                       (the first maximum)
/// t = s[i* + 1]     (the centre of the winning second difference; the code adds int((n - len(cut c2)) / 2) = d + 1
///                    to the argmax in the cut array)
/// k = max { i : s[i] >= t }            (the last singular value equal to t; earlier ties join the range)
/// offset o in [0, 1): k = min(k + Int(o * (n - k)), n - 1);  otherwise k = clamp(k + Int(o), 0, n - 1)
/// ```
/// The null space therefore starts at the elbow i* + 1 (later if singular values tie with it) and always holds
/// s[n-1]'s vector. A sharp gap in a smoothed spectrum (n >= 128) gives k about sigma = 10 past the gap (the
/// second difference of a blurred step peaks one sigma after it), a smaller null space than the gap's; for
/// n < 128 a gap that wins the argmax puts k on the first vector after it. The rule finds the sharpest bend, not
/// the smallest values: after a steep decay the bend at the start can win over a later gap (fixture
/// decay-gap-768). Edge cases as in the code: a flat spectrum has c2 = 0 everywhere, so i* is the first index,
/// t = s[d + 1] and k = n - 1; an exact zero tail tied with t likewise moves k to n - 1. n < 3 has no second
/// difference (the official code fails in argmax) and is an error here.
///
/// Adam-NSCL (`--null_thres_mode times`, line 681 there): `S <= S[-1] * int(value)`, i.e.
/// ```
/// k = min { i : s[i] <= multiplier * s[n-1] }
/// ```
/// The official code truncates the multiplier to an integer (`int(value)`) and its default value 0 leaves the
/// null space empty unless s[n-1] = 0 (it then fails an assert); here the multiplier is used as given (pass an
/// integer to reproduce the code) and an empty null space is an error.
///
/// Precision: the official code runs this on torch's float32 singular values (scipy smooths a float32 array
/// in double and rounds the result to float32); here everything is Double. The two agree wherever the maximum of
/// the second difference is not a near-tie within float32 rounding.
public struct NullSpaceSelection: Codable, Sendable, Equatable {
    public var rule: NullSpaceRule
    /// `adaptive` only: the official `--null_thres_value1/2` (0: none; a fraction of the rest when in [0, 1),
    /// else a count of indices, negative to enlarge the null space).
    public var offset: Double
    /// `adam-nscl` only: the null space holds the singular values up to `multiplier * s_min`.
    public var multiplier: Double

    /// The official default is `.adaptive` with offset 0. The multiplier's default of 1 (the smallest singular
    /// value and its ties) is ours: the official default 0 gives an empty null space.
    public init(rule: NullSpaceRule = .adaptive, offset: Double = 0, multiplier: Double = 1) {
        self.rule = rule
        self.offset = offset
        self.multiplier = multiplier
    }

    /// The start index k of the null space of `singularValues` (non-increasing, finite, non-negative).
    /// Throws on a spectrum that is not one, on n < 3 for `adaptive`, and when the null space is empty.
    public func startIndex(singularValues s: [Double]) throws -> Int {
        try Self.validate(s)
        switch rule {
        case .adaptive: return try Self.adaptiveStart(s, offset: offset)
        case .adamNSCL: return try Self.adamNSCLStart(s, multiplier: multiplier)
        }
    }

    /// The adaptive rule (see the type's equations).
    static func adaptiveStart(_ s: [Double], offset: Double) throws -> Int {
        let n = s.count
        guard n >= 3 else { throw NullSpaceError("adaptive null-space rule: \(n) singular values, it needs at least 3") }
        guard offset.isFinite else { throw NullSpaceError("adaptive null-space rule: offset \(offset) is not finite") }
        let smoothed = n >= 128 ? GaussianSmoothing.filter(s, sigma: 10) : s
        let drop = n >= 128 ? Int(Double(n) * 0.03 / 2) : 0
        // c2[i] = (f[i] - f[i+1]) - (f[i+1] - f[i+2]), formed as the official code forms it.
        var best = drop
        var bestValue = -Double.infinity
        for i in drop..<(n - 2 - drop) {
            let value = (smoothed[i] - smoothed[i + 1]) - (smoothed[i + 1] - smoothed[i + 2])
            if value > bestValue { (best, bestValue) = (i, value) }
        }
        let threshold = s[best + 1]
        var k = s.lastIndex { $0 >= threshold } ?? 0
        if offset >= 0 && offset < 1 {
            k = min(k + Int(offset * Double(n - k)), n - 1)
        } else {
            // Int(offset) truncates toward zero, as Python's int(); clamp before converting huge offsets.
            k = max(min(k + Int(max(min(offset, Double(n)), -Double(n))), n - 1), 0)
        }
        return k
    }

    /// The Adam-NSCL rule (see the type's equations).
    static func adamNSCLStart(_ s: [Double], multiplier: Double) throws -> Int {
        guard let last = s.last else { throw NullSpaceError("adam-nscl null-space rule: no singular values") }
        let bound = last * multiplier
        guard let k = s.firstIndex(where: { $0 <= bound }) else {
            throw NullSpaceError("adam-nscl null-space rule: no singular value is <= \(multiplier) x s_min = \(bound): "
                                 + "the null space is empty")
        }
        return k
    }

    /// A spectrum as an SVD returns it.
    static func validate(_ s: [Double]) throws {
        for (i, value) in s.enumerated() {
            guard value.isFinite, value >= 0 else {
                throw NullSpaceError("singular value \(i) is \(value): singular values are finite and non-negative")
            }
            if i > 0 && value > s[i - 1] {
                throw NullSpaceError("singular value \(i) (\(value)) exceeds singular value \(i - 1) (\(s[i - 1])): "
                                     + "singular values come in descending order")
            }
        }
    }
}
