/// Why a `SyntheticShapes` dataset could not be made.
public struct SyntheticShapesError: Error, CustomStringConvertible {
    public let problem: String

    init(_ problem: String) { self.problem = problem }

    public var description: String { "synthetic shapes: \(problem)" }
}
