import Foundation

/// The bytes of one tokenizer file, with the errors named as `CLIPTokenizerError`.
func readTokenizerFile(_ url: URL) throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw CLIPTokenizerError.missingFile(url) }
    do {
        return try Data(contentsOf: url)
    } catch {
        throw CLIPTokenizerError.unreadableFile(url, reason: error.localizedDescription)
    }
}
