/// A spectrum or a basis the null-space code cannot use, with what is wrong with it.
public struct NullSpaceError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
