import Numerics

/// How well a CLIP's features match the synthetic set's held-out pairs, in percent (metrics.jsonl
/// `"event": "evaluation"`, and `evaluation.json` of a finished pretraining).
///
/// With i_n, t_n the L2-normalised image and caption embeddings of held-out pair n (N pairs) and c_k those of
/// "a photo of a {class k}" (K = 48 classes):
/// ```
/// zero-shot accuracy   = mean_n [ argmax_k <i_n, c_k> == label_n ]
/// R@1 image -> text    = mean_n [ d(argmax_m <i_n, t_m>) == d(n) ]
/// R@1 text -> image    = mean_m [ d(argmax_n <i_n, t_m>) == d(m) ]
/// chance R@1           = mean_n #{m : d(m) == d(n)} / N              (both directions)
/// ```
/// d(n) is what pair n's caption states: colour, shape, size and placement (864 possible). Several held-out
/// captions state the same thing (in other words or the same ones, and the same words give the same
/// embedding), so a retrieved item counts when it states what the query's own pair states; chance R@1 is
/// what a random ranking scores. Ties go to the lowest index.
public struct PretrainEvaluation: Codable, Equatable, Sendable {
    /// Completed epochs of the evaluated model: 0 is the random initialisation.
    public var afterEpochs: Int
    public var pairs: Int
    public var zeroShotAccuracy: Double
    public var imageToTextR1: Double
    public var textToImageR1: Double
    /// 100 / number of classes.
    public var chanceZeroShotAccuracy: Double
    public var chanceR1: Double
    /// Wall time (feature extraction over the ranks and the scores).
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case pairs, seconds
        case afterEpochs = "after_epochs", zeroShotAccuracy = "zero_shot_accuracy"
        case imageToTextR1 = "image_to_text_r1", textToImageR1 = "text_to_image_r1"
        case chanceZeroShotAccuracy = "chance_zero_shot_accuracy", chanceR1 = "chance_r1"
    }

    /// The scores of normalised features: `images`, `texts` (N, E), `classTexts` (K, E), each pair's class
    /// `labels` and what its caption states, `descriptions` (any integer code; equal codes state the same).
    public static func scores(images: UnsafePointer<Float>, texts: UnsafePointer<Float>,
                              classTexts: UnsafePointer<Float>, count: Int, classCount: Int, width: Int,
                              labels: [Int], descriptions: [Int])
        -> (zeroShotAccuracy: Double, imageToTextR1: Double, textToImageR1: Double, chanceR1: Double) {
        precondition(labels.count == count && descriptions.count == count, "one label and description per pair")
        precondition(count > 0 && classCount > 0, "no pairs or no classes to score")
        var similarities = [Float](repeating: 0, count: count * count)
        var classScores = [Float](repeating: 0, count: count * classCount)
        Gemm.multiply(transposeA: false, transposeB: true, m: count, n: count, k: width, a: images, lda: width,
                      b: texts, ldb: width, beta: 0, c: &similarities, ldc: count)
        Gemm.multiply(transposeA: false, transposeB: true, m: count, n: classCount, k: width, a: images, lda: width,
                      b: classTexts, ldb: width, beta: 0, c: &classScores, ldc: classCount)
        var zeroShot = 0, imageToText = 0, textToImage = 0, sameDescription = 0
        for n in 0..<count {
            if argmax(classCount, { classScores[n * classCount + $0] }) == labels[n] { zeroShot += 1 }
            if descriptions[argmax(count, { similarities[n * count + $0] })] == descriptions[n] { imageToText += 1 }
            if descriptions[argmax(count, { similarities[$0 * count + n] })] == descriptions[n] { textToImage += 1 }
        }
        var counts: [Int: Int] = [:]
        for description in descriptions { counts[description, default: 0] += 1 }
        for description in descriptions { sameDescription += counts[description]! }
        let n = Double(count)
        return (100 * Double(zeroShot) / n, 100 * Double(imageToText) / n, 100 * Double(textToImage) / n,
                100 * Double(sameDescription) / (n * n))
    }

    /// The first index of the largest of `value(0..<count)`.
    private static func argmax(_ count: Int, _ value: (Int) -> Float) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where value(i) > value(best) { best = i }
        return best
    }
}
