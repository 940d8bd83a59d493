import Dispatch

/// Wall time and FLOPs of the encoder's kernels by kind, while a profile is active (`promptcl bench step
/// --breakdown`), so the slowest piece of a step is always visible:
/// ```
/// KernelProfile.active = KernelProfile()      start collecting (nil: off; a test of one optional per call)
/// ... steps ...
/// profile.seconds[kind], profile.flops[kind]  summed over every measured call since
/// ```
/// The kernels are called from one thread (each parallelises inside itself), so the regions never overlap and
/// their times add up to part of the step's wall time; the rest (residual adds, buffer fills, embeddings, the
/// loss, the optimiser) is what `other` stands for in a report. Only that thread touches the profile: a region
/// whose threads run two kinds at once (attention's (b, h) pairs: GEMMs and softmax) is timed whole and its
/// wall time split between the kinds by the region itself (`add`), as its threads' own clocks divide it.
public final class KernelProfile {
    public enum Kind: Int, CaseIterable, Sendable {
        /// The linear layers' GEMMs (q|k|v, output, MLP), forward and backward.
        case gemm
        /// Attention's batched products Q K^T, P V and their backward GEMMs.
        case attention
        /// Softmax over the scores and its backward (dS = P * (dP - rowsum(dP * P))), with the causal mask:
        /// its share of attention's threaded region (`Attention`).
        case softmax
        case layerNorm
        /// GELU or quick-GELU, forward and backward.
        case activation

        public var label: String {
            switch self {
            case .gemm: "GEMM (linear layers)"
            case .attention: "attention GEMMs"
            case .softmax: "softmax"
            case .layerNorm: "LayerNorm"
            case .activation: "GELU"
            }
        }
    }

    /// The profile collecting now; nil when none is.
    nonisolated(unsafe) public static var active: KernelProfile?

    public private(set) var seconds = [Double](repeating: 0, count: Kind.allCases.count)
    public private(set) var flops = [Double](repeating: 0, count: Kind.allCases.count)
    public private(set) var calls = [Int](repeating: 0, count: Kind.allCases.count)

    public init() {}

    /// Runs `body`, adding its wall time (and `flops`) to `kind` of the active profile, if any.
    @inline(__always)
    public static func measure<T>(_ kind: Kind, flops: Double = 0, _ body: () throws -> T) rethrows -> T {
        guard let profile = active else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { profile.add(kind, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, flops: flops) }
        return try body()
    }

    /// Adds `seconds` of wall time and `flops` to `kind` as one call: a region measured by its kernel.
    public func add(_ kind: Kind, seconds: Double, flops: Double = 0) {
        self.seconds[kind.rawValue] += seconds
        self.flops[kind.rawValue] += flops
        calls[kind.rawValue] += 1
    }

    /// Forgets everything measured so far.
    public func reset() {
        for i in seconds.indices { (seconds[i], flops[i], calls[i]) = (0, 0, 0) }
    }
}
