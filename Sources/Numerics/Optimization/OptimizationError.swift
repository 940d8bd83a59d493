/// A bad optimiser or learning-rate configuration, or a checkpointed optimiser state that does not fit:
/// the message names the field and the problem.
public struct OptimizationError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
