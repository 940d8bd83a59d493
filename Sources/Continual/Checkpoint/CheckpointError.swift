/// A checkpoint that cannot be written or read: the message names the checkpoint's directory or file and
/// the problem.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
