import CLIP
import Numerics

/// The class texts of the text classifier through the text tower with the method's text prompts, forward
/// and back (CoOp, MaPLe: the classifier's weights are the prompted text embeddings of the classes):
/// ```
/// ids (C, context) = tokenize(template(c)) for the classes c in play, in column order     (`setTexts`)
/// forward:   T[j] = text(ids[j]; prompts)      chunk j of at most n rows; only T (C, E) is kept
/// backward:  for j from the last chunk to the first:
///              text(ids[j]; prompts) again, except for the last chunk (its activations are still in the tower)
///              text.backward(dT[j]) -> prompt gradients (+=)
/// ```
/// The prompts must be the same for every row (`batchStride` 0): the tower runs over C class texts, not over the
/// batch's n samples, so prompts chosen per sample have no row to go to.
///
/// Chunked with recomputation in the trainer's caption tower (capacity n, the local batch), which the
/// classifier leaves idle while training, rather than in a tower of its own with room for every class: a
/// tower keeps every layer's activations of every row for the backward, about 34 MiB per row for CLIP ViT-B/16's
/// text tower (12 layers of 77 tokens of width 512, with the backward's scratch), so CIFAR-100's 100 seen classes
/// would hold about 3.3 GiB per rank where the chunks hold n rows' worth. The price is one more forward of every
/// chunk but the last; with loss.classes = "task" and C <= n (10 classes per CIFAR-100 task, 2 per Fashion-MNIST
/// task) there is one chunk and nothing is recomputed.
final class ClassTextEncoder {
    private let tower: TextTower
    private let tokenizer: CLIPTokenizer
    private let contextLength: Int
    private let width: Int
    private let maxClasses: Int
    private let ids: UnsafeMutablePointer<Int32>
    private let embeddings: UnsafeMutablePointer<Float>
    /// Classes set by `setTexts`.
    private(set) var count = 0

    /// Room for `maxClasses` texts of `tower`'s context, embedded to `projectionDim`.
    init(tower: TextTower, tokenizer: CLIPTokenizer, projectionDim: Int, maxClasses: Int) {
        self.tower = tower
        self.tokenizer = tokenizer
        self.maxClasses = maxClasses
        contextLength = tower.config.contextLength
        width = projectionDim
        ids = .allocate(capacity: maxClasses * contextLength)
        embeddings = .allocate(capacity: maxClasses * projectionDim)
    }

    deinit {
        ids.deallocate()
        embeddings.deallocate()
    }

    /// Rows `j * n ..< min((j + 1) * n, C)` of every chunk j, n the tower's capacity.
    private var chunks: [Range<Int>] {
        stride(from: 0, to: count, by: tower.capacity).map { $0..<min($0 + tower.capacity, count) }
    }

    /// Tokenizes `texts`, one class each, for the forwards and backwards that follow.
    func setTexts(_ texts: [String]) {
        precondition(texts.count <= maxClasses, "\(texts.count) class texts, room for \(maxClasses)")
        count = texts.count
        for (row, text) in texts.enumerated() {
            let tokens = tokenizer.tokenize(text, contextLength: contextLength, padding: tokenizer.endOfText)
            (ids + row * contextLength).update(from: tokens, count: contextLength)
        }
    }

    /// The text embeddings T (C, E) of the texts through `prompts`, valid until the next forward. Throws when
    /// the prompts differ per row.
    func forward(prompts: [PromptValues], method: String) throws -> UnsafePointer<Float> {
        if let site = prompts.firstIndex(where: { $0.batchStride != 0 }) {
            throw TrainingError("loss.kind \"text-classifier\": method \"\(method)\" gives each sample its own text "
                                + "prompts (site \(site)), but the classifier runs the text tower over the class "
                                + "texts, not the samples' captions: use loss.kind = \"contrastive\"")
        }
        for rows in chunks { run(rows, prompts: prompts) }
        return UnsafePointer(embeddings)
    }

    /// Back-propagates dT (C, E) of the last `forward` (same prompts, no other use of the tower in between) into
    /// `promptGradients` (`+=`).
    func backward(dEmbeddings: UnsafePointer<Float>, prompts: [PromptValues], promptGradients: [PromptGradient?]) {
        let all = chunks
        for (j, rows) in all.enumerated().reversed() {
            if j != all.count - 1 { run(rows, prompts: prompts) }
            tower.backward(dEmbeds: dEmbeddings + rows.lowerBound * width, promptGradients: promptGradients,
                           batch: rows.count)
        }
    }

    /// The tower's forward of `rows`, their embeddings copied into T.
    private func run(_ rows: Range<Int>, prompts: [PromptValues]) {
        let output = tower.forward(ids: ids + rows.lowerBound * contextLength, prompts: prompts, batch: rows.count)
        (embeddings + rows.lowerBound * width).update(from: output, count: rows.count * width)
    }
}
