import Numerics

/// How well a CLIP's features match the synthetic set's held-out pairs, in percent (metrics.jsonl
/// `"event": "held_out"`, and `evaluation.json` of a finished pretraining).
///
/// With i_n, t_n the L2-normalised image and caption embeddings of held-out pair n (N pairs), c_k those of
/// "a photo of a {class k}" (K = 48 classes) and c_{k,w} those of the 54 captions w that can describe class k
/// (`SyntheticShapes.captions(ofClass:)`: the training wordings, every size and placement):
/// ```
/// zero-shot accuracy            = mean_n [ argmax_k <i_n, c_k> == label_n ]
/// zero-shot, nearest caption    = mean_n [ class of argmax_{k,w} <i_n, c_{k,w}> == label_n ]
/// R@1 image -> text             = mean_n [ d(argmax_m <i_n, t_m>) == d(n) ]
/// R@1 text -> image             = mean_m [ d(argmax_n <i_n, t_m>) == d(m) ]
/// chance R@1                    = mean_n #{m : d(m) == d(n)} / N              (both directions)
/// ```
/// d(n) is what pair n's caption states: colour, shape, size and placement (864 possible). Several held-out
/// captions state the same thing (in other words or the same ones, and the same words give the same
/// embedding), so a retrieved item counts when it states what the query's own pair states; chance R@1 is
/// what a random ranking scores. Ties go to the lowest index. The training captions always state size and
/// placement, so "a photo of a {class}" is worded unlike anything the text tower was trained on; the nearest
/// caption asks in the training wordings.
public struct PretrainEvaluation: Codable, Equatable, Sendable {
    /// Completed epochs of the evaluated model: 0 is the random initialisation.
    public var afterEpochs: Int
    public var pairs: Int
    public var zeroShotAccuracy: Double
    public var zeroShotCaptionAccuracy: Double
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
        case zeroShotCaptionAccuracy = "zero_shot_caption_accuracy"
        case imageToTextR1 = "image_to_text_r1", textToImageR1 = "text_to_image_r1"
        case chanceZeroShotAccuracy = "chance_zero_shot_accuracy", chanceR1 = "chance_r1"
    }

    /// The share of normalised `images` (N, E) whose most similar row of `classTexts` (K * textsPerClass, E: class
    /// k's texts in rows k * textsPerClass ..< (k + 1) * textsPerClass) belongs to their class in `labels`.
    public static func zeroShotAccuracy(images: UnsafePointer<Float>, classTexts: UnsafePointer<Float>, count: Int,
                                        classCount: Int, textsPerClass: Int = 1, width: Int, labels: [Int]) -> Double {
        precondition(labels.count == count && count > 0 && classCount > 0 && textsPerClass > 0,
                     "one label per image, some classes and texts")
        let rows = classCount * textsPerClass
        var scores = [Float](repeating: 0, count: count * rows)
        Gemm.multiply(transposeA: false, transposeB: true, m: count, n: rows, k: width, a: images, lda: width,
                      b: classTexts, ldb: width, beta: 0, c: &scores, ldc: rows)
        let right = (0..<count).filter { n in argmax(rows, { scores[n * rows + $0] }) / textsPerClass == labels[n] }.count
        return 100 * Double(right) / Double(count)
    }

    /// R@1 both ways between normalised `images` and `texts` (N, E), pair n's `descriptions[n]` saying what it
    /// states (any integer code; equal codes state the same), and the chance R@1.
    public static func retrieval(images: UnsafePointer<Float>, texts: UnsafePointer<Float>, count: Int, width: Int,
                                 descriptions: [Int]) -> (imageToTextR1: Double, textToImageR1: Double, chanceR1: Double) {
        precondition(descriptions.count == count && count > 0, "one description per pair, some pairs")
        var similarities = [Float](repeating: 0, count: count * count)
        Gemm.multiply(transposeA: false, transposeB: true, m: count, n: count, k: width, a: images, lda: width,
                      b: texts, ldb: width, beta: 0, c: &similarities, ldc: count)
        var imageToText = 0, textToImage = 0, sameDescription = 0
        for n in 0..<count {
            if descriptions[argmax(count, { similarities[n * count + $0] })] == descriptions[n] { imageToText += 1 }
            if descriptions[argmax(count, { similarities[$0 * count + n] })] == descriptions[n] { textToImage += 1 }
        }
        var counts: [Int: Int] = [:]
        for description in descriptions { counts[description, default: 0] += 1 }
        for description in descriptions { sameDescription += counts[description]! }
        let n = Double(count)
        return (100 * Double(imageToText) / n, 100 * Double(textToImage) / n, 100 * Double(sameDescription) / (n * n))
    }

    /// The first index of the largest of `value(0..<count)`.
    private static func argmax(_ count: Int, _ value: (Int) -> Float) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where value(i) > value(best) { best = i }
        return best
    }
}
