/// Resident memory that cannot be measured: the file and the problem.
struct ResidentMemoryError: Error, CustomStringConvertible {
    let path: String
    let problem: String
    var description: String { "\(path): \(problem)" }
}
