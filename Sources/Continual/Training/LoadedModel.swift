import CLIP
import Foundation

/// The frozen CLIP of `[model]` with its tokenizer: a Hugging Face folder, or random weights of
/// `[model.random]`'s shapes with the bundled CLIP vocabulary.
struct LoadedModel {
    let model: CLIPModel
    let tokenizer: CLIPTokenizer

    init(_ section: ModelSection, seed: UInt64) throws {
        if section.path.isEmpty {
            tokenizer = try CLIPTokenizer.bundled()
            let config = section.random.clipConfig(vocabularySize: tokenizer.vocabularySize,
                                                   startOfText: Int(tokenizer.startOfText),
                                                   endOfText: Int(tokenizer.endOfText))
            model = CLIPModel.random(config: config, seed: seed)
        } else {
            let directory = URL(fileURLWithPath: section.path)
            model = try CLIPModel.load(directory: directory)
            tokenizer = try CLIPTokenizer(directory: directory)
            guard tokenizer.vocabularySize <= model.config.text.vocabularySize else {
                throw TrainingError("model \(section.path): vocab.json has \(tokenizer.vocabularySize) ids but the "
                                    + "text model's vocab_size is \(model.config.text.vocabularySize)")
            }
        }
    }
}
