import Foundation

/// Why a `config.json` could not be read as a CLIP config: the file, the key (a dotted path such as
/// `vision_config.patch_size`, nil when the whole file is at fault) and the problem.
public struct CLIPConfigError: Error, CustomStringConvertible {
    public let url: URL
    public let key: String?
    public let problem: String

    init(_ url: URL, _ key: String?, _ problem: String) {
        self.url = url
        self.key = key
        self.problem = problem
    }

    public var description: String {
        if let key { return "CLIP config \(url.path): \(key): \(problem)" }
        return "CLIP config \(url.path): \(problem)"
    }
}
