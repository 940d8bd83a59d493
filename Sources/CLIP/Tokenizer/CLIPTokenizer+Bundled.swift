import Foundation

extension CLIPTokenizer {
    /// The folder of OpenAI CLIP's BPE vocabulary (49408 ids, MIT licence) that ships with promptcl,
    /// in Hugging Face's format (`vocab.json`, `merges.txt`): the tokenizer of models built with random
    /// weights, which come without one. A model loaded from a folder uses that folder's own files.
    public static var bundledVocabularyDirectory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("clip-vocabulary")
    }

    /// The tokenizer of the bundled CLIP vocabulary.
    public static func bundled() throws -> CLIPTokenizer {
        try CLIPTokenizer(directory: bundledVocabularyDirectory)
    }
}
