import CLIP
import Foundation

extension ModelSection {
    /// The shapes of `[model]`'s CLIP without its weights (what `promptcl inspect` counts): the folder's
    /// `config.json`, or `[model.random]`'s shapes with the bundled CLIP vocabulary (as `LoadedModel` builds it).
    public func clipConfig() throws -> CLIPConfig {
        if path.isEmpty {
            let tokenizer = try CLIPTokenizer.bundled()
            return random.clipConfig(vocabularySize: tokenizer.vocabularySize, startOfText: Int(tokenizer.startOfText),
                                     endOfText: Int(tokenizer.endOfText))
        }
        return try CLIPConfig(contentsOf: URL(fileURLWithPath: path).appendingPathComponent("config.json"))
    }
}
