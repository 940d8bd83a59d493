import CLIP
import Foundation
import Numerics
import Prompting
import TestSupport
import XCTest

/// `ConditionedContrastiveObjective` (a text embedding per (image, caption) pair) reduces to CLIP's
/// `ContrastiveObjective` when the captions' embeddings do not depend on the image, and its gradients match central
/// differences when they do. (The torch comparison is in CrossModalLockStepTests' training step.)
final class ConditionedContrastiveObjectiveTests: XCTestCase {
    func testUnconditionedTextsGiveCLIPsLoss() {
        let (n, e, logScale): (Int, Int, Float) = (5, 7, 2.3)
        let image = OwnedFloats(randomNormal(n * e, seed: 1)), text = OwnedFloats(randomNormal(n * e, seed: 2))
        let repeated = OwnedFloats((0..<n).flatMap { _ in text.values })           // texts[i][j] = t_j
        let clip = ContrastiveObjective(capacity: n, width: e)
        let conditioned = ConditionedContrastiveObjective(capacity: n + 2, width: e)
        let expected = clip.forward(image: image.pointer, text: text.pointer, count: n, logScale: logScale)
        let loss = conditioned.forward(image: image.pointer, texts: repeated.pointer, count: n, logScale: logScale)
        XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected), "loss")
        let reference = clip.backward()
        let result = conditioned.backward()
        let dImage = Array(UnsafeBufferPointer(start: result.dImage, count: n * e))
        XCTAssertLessThan(relativeError(dImage, Array(UnsafeBufferPointer(start: reference.dImage, count: n * e))), 1e-5,
                          "dimage")
        // Caption j's gradient is spread over its n copies: their sum is CLIP's dtext_j.
        var summed = [Float](repeating: 0, count: n * e)
        for i in 0..<n { for k in 0..<n * e { summed[k] += result.dTexts[i * n * e + k] } }
        XCTAssertLessThan(relativeError(summed, Array(UnsafeBufferPointer(start: reference.dText, count: n * e))), 1e-5,
                          "dtexts summed over images")
        XCTAssertEqual(result.dLogScale, reference.dLogScale, accuracy: 1e-5, "dlogit_scale")
    }

    func testGradientsMatchFiniteDifferences() {
        let (n, e, logScale): (Int, Int, Float) = (3, 4, 1.5)
        let image = randomNormal(n * e, seed: 3), texts = randomNormal(n * n * e, seed: 4)
        let upstream: Float = 0.7
        let objective = ConditionedContrastiveObjective(capacity: n, width: e)
        func loss(_ image: [Float], _ texts: [Float]) -> Double {
            let i = OwnedFloats(image), t = OwnedFloats(texts)
            return Double(upstream) * Double(objective.forward(image: i.pointer, texts: t.pointer, count: n, logScale: logScale))
        }
        let owned = (OwnedFloats(image), OwnedFloats(texts))
        _ = objective.forward(image: owned.0.pointer, texts: owned.1.pointer, count: n, logScale: logScale)
        let result = objective.backward(dLoss: upstream)
        let dImage = Array(UnsafeBufferPointer(start: result.dImage, count: n * e))
        let dTexts = Array(UnsafeBufferPointer(start: result.dTexts, count: n * n * e))
        let zerosImage = [Float](repeating: 0, count: n * e), zerosTexts = [Float](repeating: 0, count: n * n * e)
        assertGradient("conditioned contrastive dimage", accumulated: dImage, initial: zerosImage,
                       numerical: numericalGradient(image, step: 1e-2) { loss($0, texts) }, tolerance: 5e-3)
        assertGradient("conditioned contrastive dtexts", accumulated: dTexts, initial: zerosTexts,
                       numerical: numericalGradient(texts, step: 1e-2) { loss(image, $0) }, tolerance: 5e-3)
    }
}
