import Foundation

extension CLIPModel {
    /// Writes the model as a Hugging Face `CLIPModel` folder, the layout `load(directory:)`, `promptcl embed`,
    /// `[model] path` and transformers' `CLIPModel.from_pretrained` / `CLIPTokenizer.from_pretrained` read:
    /// ```
    /// DIR/vocab.json, DIR/merges.txt   copies of `tokenizer`'s files
    /// DIR/config.json                  `config.jsonText`
    /// DIR/model.safetensors            every tensor of ParameterLayout.clip(config) under its transformers name,
    ///                                  F32, metadata {"format": "pt"} (as transformers writes it)
    /// ```
    /// `DIR` is created if needed; files already there are replaced, each atomically, the weights last, so a
    /// folder whose weights are complete has the matching config and tokenizer beside them. Throws
    /// `CLIPSavingError` naming the file, or when the tokenizer has more ids than the text model's vocabulary.
    public func save(to directory: URL, tokenizer: CLIPTokenizer) throws {
        guard tokenizer.vocabularySize <= config.text.vocabularySize else {
            throw CLIPSavingError(tokenizer.vocabularyURL, "the tokenizer has \(tokenizer.vocabularySize) ids but the "
                                  + "text model's vocab_size is \(config.text.vocabularySize)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIPSavingError(directory, "cannot create the folder: \(error.localizedDescription)")
        }
        for (source, name) in [(tokenizer.vocabularyURL, "vocab.json"), (tokenizer.mergesURL, "merges.txt")] {
            let destination = directory.appendingPathComponent(name)
            guard source.standardizedFileURL.path != destination.standardizedFileURL.path else { continue }
            let bytes: Data
            do {
                bytes = try Data(contentsOf: source)
            } catch {
                throw CLIPSavingError(source, "cannot read the tokenizer file: \(error.localizedDescription)")
            }
            try Self.write(bytes, to: destination)
        }
        try Self.write(Data(config.jsonText.utf8), to: directory.appendingPathComponent("config.json"))
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for entry in weights.layout.entries {
            try writer.add(entry.name, shape: entry.shape, floats: weights.values(entry.name))
        }
        try writer.write(to: directory.appendingPathComponent("model.safetensors"))
    }

    private static func write(_ bytes: Data, to url: URL) throws {
        do {
            try bytes.write(to: url, options: .atomic)
        } catch {
            throw CLIPSavingError(url, "cannot write: \(error.localizedDescription)")
        }
    }
}
