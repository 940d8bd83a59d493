/// A run that cannot go on: a bad setting found once the job is known (rank count, files), a failed
/// write, a non-finite loss. The message names the file or key involved.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
