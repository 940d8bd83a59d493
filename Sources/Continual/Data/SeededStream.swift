import Numerics

/// Independent, reproducible random streams named by (seed, stream): a sample index, an epoch.
///
/// The stream's generator is `SplitMix64` seeded with one SplitMix64 output of `seed ^ stream * K`
/// (K = 0xD1B54A32D192ED03, odd), so neighbouring streams do not share shifted sequences.
/// Everything here is integer arithmetic: the same numbers on every platform and rank.
enum SeededStream {
    static func generator(seed: UInt64, stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }

    /// Uniform integer in `0..<bound` (Lemire's multiply-high; bias below bound / 2^64).
    static func uniform(_ bound: Int, using generator: inout SplitMix64) -> Int {
        precondition(bound > 0, "uniform: bound \(bound) must be positive")
        return Int(generator.next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Fisher-Yates shuffle in place, from the last position down, drawing with `uniform`.
    /// Written out (not `shuffle(using:)`) because the standard library does not promise its algorithm.
    static func shuffle(_ values: inout [Int], using generator: inout SplitMix64) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(i, uniform(i + 1, using: &generator))
        }
    }
}
