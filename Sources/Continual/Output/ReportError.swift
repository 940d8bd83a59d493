/// A report file that cannot be written or read back (`RunReport`); the message names the file and the problem.
public struct ReportError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
