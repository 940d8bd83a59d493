import Foundation

/// Why `CLIPModel.save(to:tokenizer:)` could not write a model folder: the file or folder and the problem.
public struct CLIPSavingError: Error, CustomStringConvertible {
    public let url: URL
    public let problem: String

    init(_ url: URL, _ problem: String) {
        self.url = url
        self.problem = problem
    }

    public var description: String { "\(url.path): \(problem)" }
}
