/// Why a `ShardedSampler` could not be made.
public struct ShardedSamplerError: Error, CustomStringConvertible {
    public let problem: String

    init(_ problem: String) { self.problem = problem }

    public var description: String { "sharded sampler: \(problem)" }
}
