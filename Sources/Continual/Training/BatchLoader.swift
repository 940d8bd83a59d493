import CLIP
import Foundation
import Numerics

/// Fills a local batch's model inputs from a dataset: CLIP-normalised pixels and tokenized captions.
///
/// ```
/// pixels[n] = dataset.writePixels(indices[n])                      (B, 3, S, S), samples in parallel
/// ids[n]    = tokenize(dataset.caption(indices[n]), context)       (B, context) Int32, EOT-padded
/// ```
final class BatchLoader {
    let capacity: Int
    let pixelCount: Int
    let contextLength: Int
    let pixels: UnsafeMutablePointer<Float>
    let ids: UnsafeMutablePointer<Int32>
    private let dataset: any ImageTextDataset
    private let tokenizer: CLIPTokenizer

    init(dataset: any ImageTextDataset, tokenizer: CLIPTokenizer, capacity: Int, contextLength: Int) {
        self.dataset = dataset
        self.tokenizer = tokenizer
        self.capacity = capacity
        self.contextLength = contextLength
        pixelCount = 3 * dataset.imageSize * dataset.imageSize
        pixels = .allocate(capacity: capacity * pixelCount)
        ids = .allocate(capacity: capacity * contextLength)
    }

    deinit {
        pixels.deallocate()
        ids.deallocate()
    }

    /// Writes the pixels of `indices` (at most `capacity`).
    func loadPixels(_ indices: [Int]) {
        precondition(indices.count <= capacity, "batch of \(indices.count) exceeds the loader's \(capacity)")
        let pixels = self.pixels, pixelCount = self.pixelCount, dataset = self.dataset
        DispatchQueue.concurrentPerform(iterations: indices.count) { n in
            dataset.writePixels(at: indices[n], into: pixels + n * pixelCount)
        }
    }

    /// Writes the token ids of `indices`' captions.
    func loadCaptions(_ indices: [Int]) {
        precondition(indices.count <= capacity, "batch of \(indices.count) exceeds the loader's \(capacity)")
        for (n, index) in indices.enumerated() {
            writeIDs(of: dataset.caption(at: index), row: n)
        }
    }

    /// Writes the token ids of `texts` (at most `capacity`), one per row.
    func loadTexts(_ texts: [String]) {
        precondition(texts.count <= capacity, "\(texts.count) texts exceed the loader's \(capacity)")
        for (n, text) in texts.enumerated() { writeIDs(of: text, row: n) }
    }

    private func writeIDs(of text: String, row: Int) {
        let tokens = tokenizer.tokenize(text, contextLength: contextLength, padding: tokenizer.endOfText)
        (ids + row * contextLength).update(from: tokens, count: contextLength)
    }
}
