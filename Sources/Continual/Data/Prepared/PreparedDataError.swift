/// Why a prepared dataset could not be opened or written, or a source dataset could not be read: the file
/// (and, where there is one, the line or record) and the problem.
public struct PreparedDataError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String

    public init(_ file: String, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}
