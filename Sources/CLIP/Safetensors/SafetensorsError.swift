import Foundation

/// Why a safetensors file could not be read or written: the file's path and the problem.
///
/// Errors raised by `SafetensorsWriter.add` come before any file is chosen and say so instead of a path.
public struct SafetensorsError: Error, CustomStringConvertible {
    /// The file concerned; nil for a tensor rejected by `SafetensorsWriter.add`.
    public let url: URL?
    public let problem: String

    public init(_ url: URL?, _ problem: String) {
        self.url = url
        self.problem = problem
    }

    public var description: String {
        if let url { return "safetensors file \(url.path): \(problem)" }
        return "safetensors writer: \(problem)"
    }
}
