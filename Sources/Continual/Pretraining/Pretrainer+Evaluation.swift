import CLIP
import Foundation
import Numerics

extension Pretrainer {
    /// The classifier captions of the zero-shot accuracy, `{class}` replaced by a class name.
    static let zeroShotTemplate = "a photo of a {class}"

    /// `PretrainEvaluation` of the current weights on the held-out pairs. Collective: every rank calls it and
    /// embeds its contiguous block of the pairs; the blocks are gathered in rank order, so every rank scores
    /// the same features and gets the same figures.
    public func evaluate(afterEpochs: Int) -> PretrainEvaluation {
        let started = Date()
        let total = heldOut.count, width = model.config.projectionDim
        let mine = Array((total * group.rank / group.size)..<(total * (group.rank + 1) / group.size))
        var localImages = [Float](repeating: 0, count: max(mine.count, 1) * width)
        var localTexts = localImages
        for start in stride(from: 0, to: mine.count, by: localBatch) {
            let chunk = Array(mine[start..<min(start + localBatch, mine.count)])
            heldOutLoader.loadPixels(chunk)
            heldOutLoader.loadCaptions(chunk)
            Self.normalise(vision.forward(pixels: heldOutLoader.pixels, batch: chunk.count), rows: chunk.count,
                           width: width, into: &localImages, at: start)
            Self.normalise(text.forward(ids: heldOutLoader.ids, batch: chunk.count), rows: chunk.count,
                           width: width, into: &localTexts, at: start)
        }
        var images = [Float](repeating: 0, count: total * width), texts = images
        _ = group.gatherRows(localImages, count: mine.count, width: width, into: &images, capacity: total)
        _ = group.gatherRows(localTexts, count: mine.count, width: width, into: &texts, capacity: total)

        let classNames = heldOut.classNames
        let classTexts = embedTexts(classNames.map { Self.zeroShotTemplate.replacingOccurrences(of: "{class}", with: $0) })
        let wordings = SyntheticShapes.captions(ofClass: 0).count
        let captionTexts = embedTexts(classNames.indices.flatMap { SyntheticShapes.captions(ofClass: $0) })

        let labels = (0..<total).map { heldOut.label(at: $0) }
        let descriptions = (0..<total).map { index -> Int in
            let sample = heldOut.sample(at: index)
            return (labels[index] * SyntheticPlacement.allCases.count + sample.placement.rawValue) * 2
                + (sample.isLarge ? 1 : 0)
        }
        let retrieval = PretrainEvaluation.retrieval(images: images, texts: texts, count: total, width: width,
                                                     descriptions: descriptions)
        func zeroShot(_ classes: [Float], textsPerClass: Int) -> Double {
            PretrainEvaluation.zeroShotAccuracy(images: images, classTexts: classes, count: total,
                                                classCount: classNames.count, textsPerClass: textsPerClass,
                                                width: width, labels: labels)
        }
        return PretrainEvaluation(afterEpochs: afterEpochs, pairs: total,
                                  zeroShotAccuracy: zeroShot(classTexts, textsPerClass: 1),
                                  zeroShotCaptionAccuracy: zeroShot(captionTexts, textsPerClass: wordings),
                                  imageToTextR1: retrieval.imageToTextR1, textToImageR1: retrieval.textToImageR1,
                                  chanceZeroShotAccuracy: 100 / Double(classNames.count), chanceR1: retrieval.chanceR1,
                                  seconds: Date().timeIntervalSince(started))
    }

    /// The L2-normalised text embeddings (count, E) of `texts`, through the text tower in batches.
    private func embedTexts(_ texts: [String]) -> [Float] {
        let width = model.config.projectionDim
        var embeddings = [Float](repeating: 0, count: texts.count * width)
        for start in stride(from: 0, to: texts.count, by: localBatch) {
            let chunk = Array(texts[start..<min(start + localBatch, texts.count)])
            heldOutLoader.loadTexts(chunk)
            Self.normalise(text.forward(ids: heldOutLoader.ids, batch: chunk.count), rows: chunk.count, width: width,
                           into: &embeddings, at: start)
        }
        return embeddings
    }

    /// Writes the L2-normalised rows of `embeds` (rows, width) into `destination` from row `row` on.
    private static func normalise(_ embeds: UnsafePointer<Float>, rows: Int, width: Int, into destination: inout [Float],
                                  at row: Int) {
        var norms = [Float](repeating: 0, count: rows)
        destination.withUnsafeMutableBufferPointer { buffer in
            L2Normalize.forward(y: buffer.baseAddress! + row * width, norms: &norms, x: embeds, rows: rows, columns: width)
        }
    }
}
