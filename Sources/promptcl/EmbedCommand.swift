import ArgumentParser
import CLIP
import Foundation
import Numerics

/// `promptcl embed`: projected, unnormalised CLIP features of images and captions (what transformers'
/// get_image_features and get_text_features return), optionally with learned prompts.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute CLIP image and text embeddings, with or without prompts.",
        discussion: """
        DIR holds config.json, model.safetensors, vocab.json and merges.txt (a Hugging Face CLIPModel folder).
        IMAGES holds `pixel_values` [N, C, H, W] float32, already normalised; CAPTIONS has one caption per line.
        OUT gets `image_embeds` [N, E] and `text_embeds` [M, E].
        """
    )

    @Option(help: "Hugging Face CLIP folder (config.json, model.safetensors, vocab.json, merges.txt).")
    var model: String

    @Option(help: "safetensors file with `pixel_values` [N, C, H, W].")
    var images: String?

    @Option(help: "Text file, one caption per line.")
    var texts: String?

    @Option(help: "Output safetensors file.")
    var out: String

    @Option(help: "Prompt file (prompts.safetensors from `promptcl train`, or any file with vision.site{i} / text.site{i} tensors and their plans); plain CLIP without it.")
    var prompts: String?

    @Option(name: .customLong("batch-size"), help: "Images or captions per forward pass.")
    var batchSize = 32

    @Option(help: "Compute threads (default: OpenBLAS's setting).")
    var threads: Int?

    func validate() throws {
        guard images != nil || texts != nil else { throw ValidationError("give --images, --texts or both") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        if let threads { ComputeThreads.set(threads) }
        let folder = URL(fileURLWithPath: model)
        let clip = try CLIPModel.load(directory: folder)
        let promptSet = try prompts.map { try PromptSet(contentsOf: URL(fileURLWithPath: $0), config: clip.config) }
        var writer = SafetensorsWriter(metadata: ["model": folder.path])
        if let images {
            let url = URL(fileURLWithPath: images)
            let (pixels, count) = try Self.readPixels(url, config: clip.config.vision)
            let embeds = embedImages(clip, pixels: pixels, count: count, prompts: promptSet)
            try writer.add("image_embeds", shape: [count, clip.config.projectionDim], floats: embeds)
        }
        if let texts {
            let url = URL(fileURLWithPath: texts)
            let captions = try Self.readCaptions(url)
            let tokenizer = try CLIPTokenizer(directory: folder)
            guard tokenizer.vocabularySize <= clip.config.text.vocabularySize else {
                throw ValidationError("\(folder.path): the tokenizer has \(tokenizer.vocabularySize) ids but config.json's vocab_size is \(clip.config.text.vocabularySize)")
            }
            let ids = captions.flatMap {
                tokenizer.tokenize($0, contextLength: clip.config.text.contextLength, padding: Int32(clip.config.text.padTokenID))
            }
            let embeds = embedTexts(clip, ids: ids, count: captions.count, prompts: promptSet)
            try writer.add("text_embeds", shape: [captions.count, clip.config.projectionDim], floats: embeds)
        }
        try writer.write(to: URL(fileURLWithPath: out))
    }

    private func embedImages(_ clip: CLIPModel, pixels: [Float], count: Int, prompts: PromptSet?) -> [Float] {
        let plan = prompts?.vision ?? .none
        let tower = VisionTower(model: clip, capacity: min(batchSize, max(count, 1)), plan: plan, use: .inference)
        let perImage = pixels.count / max(count, 1)
        return embedInBatches(count: count, width: clip.config.projectionDim, siteValues: prompts?.visionValues ?? []) { start, batch, values in
            pixels.withUnsafeBufferPointer { tower.forward(pixels: $0.baseAddress! + start * perImage, prompts: values, batch: batch) }
        }
    }

    private func embedTexts(_ clip: CLIPModel, ids: [Int32], count: Int, prompts: PromptSet?) -> [Float] {
        let plan = prompts?.text ?? .none
        let tower = TextTower(model: clip, capacity: min(batchSize, max(count, 1)), plan: plan, use: .inference)
        let context = clip.config.text.contextLength
        return embedInBatches(count: count, width: clip.config.projectionDim, siteValues: prompts?.textValues ?? []) { start, batch, values in
            ids.withUnsafeBufferPointer { tower.forward(ids: $0.baseAddress! + start * context, prompts: values, batch: batch) }
        }
    }

    /// Runs `forward(start, batch, prompts)` over 0..<count in batches and concatenates the (batch, width) results.
    private func embedInBatches(count: Int, width: Int, siteValues: [[Float]],
                                _ forward: (Int, Int, [PromptValues]) -> UnsafePointer<Float>) -> [Float] {
        let owned = siteValues.map { values -> UnsafeMutablePointer<Float> in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
            pointer.initialize(from: values, count: values.count)
            return pointer
        }
        defer { owned.forEach { $0.deallocate() } }
        let prompts = owned.map { PromptValues($0) }
        var result = [Float]()
        result.reserveCapacity(count * width)
        var start = 0
        while start < count {
            let batch = min(batchSize, count - start)
            let embeds = forward(start, batch, prompts)
            result.append(contentsOf: UnsafeBufferPointer(start: embeds, count: batch * width))
            start += batch
        }
        return result
    }

    /// `pixel_values` [N, C, H, W] with C, H, W as the model expects.
    static func readPixels(_ url: URL, config: CLIPVisionConfig) throws -> ([Float], Int) {
        let file = try SafetensorsFile(contentsOf: url)
        guard let info = file.info("pixel_values") else {
            throw ValidationError("\(url.path): no tensor named pixel_values (found: \(file.tensorNames.joined(separator: ", ")))")
        }
        let expected = [config.channels, config.imageSize, config.imageSize]
        guard info.shape.count == 4, Array(info.shape.dropFirst()) == expected else {
            throw ValidationError("\(url.path): pixel_values has shape \(info.shape), the model expects [N, \(expected.map(String.init).joined(separator: ", "))]")
        }
        return (try file.floats("pixel_values"), info.shape[0])
    }

    /// One caption per line; a final newline does not add an empty caption.
    static func readCaptions(_ url: URL) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ValidationError("\(url.path): cannot read the captions file (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(url.path): the captions file is not UTF-8 text")
        }
        var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
