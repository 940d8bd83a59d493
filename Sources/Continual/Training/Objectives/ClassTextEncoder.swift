import CLIP
import Distributed
import Numerics

/// The class texts of the text classifier through the text tower with the method's text prompts, forward
/// and back (CoOp, MaPLe: the classifier's weights are the prompted text embeddings of the classes), spread
/// over the ranks by class:
/// ```
/// ids (C, context) = tokenize(template(c)) for the classes c in play, in column order     (`setTexts`)
/// rank r of P owns rows R_r = [C r / P, C (r + 1) / P)                                     (`rows(of:)`)
/// forward:   T[j] = text(ids[j]; prompts)      chunk j of at most n rows of R_r
///            T (C, E) = all-gather of every rank's rows, in rank order (= class order); only T is kept
/// backward:  dT = sum over the ranks of their dT (each rank's is its samples' share of the loss)
///            for j from the last chunk of R_r to the first:
///              text(ids[j]; prompts) again, except for the last chunk (its activations are still in the tower)
///              text.backward(dT[j]) -> prompt gradients (+=)
/// ```
/// Each rank's prompt gradients then hold the whole batch's gradient through its own classes, and the step's
/// all-reduce sums them to the gradient through every class: what every rank running every class and summing
/// its samples' shares gives, in 1/P of the text tower's work per rank. Every rank must call `forward` and
/// `backward` together (they hold an all-gather and an all-reduce), also a rank that owns no class (C < P).
///
/// The prompts must be the same for every row (`batchStride` 0): the tower runs over C class texts, not over the
/// batch's n samples, so prompts chosen per sample have no row to go to.
///
/// Chunked with recomputation in the trainer's caption tower (capacity n, the local batch), which the
/// classifier leaves idle while training, rather than in a tower of its own with room for every class: a
/// tower keeps every layer's activations of every row for the backward, about 34 MiB per row for CLIP ViT-B/16's
/// text tower (12 layers of 77 tokens of width 512, with the backward's scratch), so CIFAR-100's 100 seen classes
/// would hold about 3.3 GiB per rank where the chunks hold n rows' worth. The price is one more forward of every
/// chunk but the last; with loss.classes = "task" and C / P <= n (10 classes per CIFAR-100 task, 2 per
/// Fashion-MNIST task) there is one chunk and nothing is recomputed.
final class ClassTextEncoder {
    private let tower: TextTower
    private let group: ProcessGroup
    private let tokenizer: CLIPTokenizer
    let contextLength: Int
    private let width: Int
    private let maxClasses: Int
    private let ids: UnsafeMutablePointer<Int32>
    /// T (C, E), gathered from every rank.
    private let embeddings: UnsafeMutablePointer<Float>
    /// This rank's rows of T as its tower computes them (R_r first), then the summed dT (C, E) in the backward.
    private let scratch: UnsafeMutablePointer<Float>
    /// Classes set by `setTexts`.
    private(set) var count = 0

    /// Room for `maxClasses` texts of `tower`'s context, embedded to `projectionDim`, spread over `group`'s ranks.
    init(tower: TextTower, group: ProcessGroup, tokenizer: CLIPTokenizer, projectionDim: Int, maxClasses: Int) {
        self.tower = tower
        self.group = group
        self.tokenizer = tokenizer
        self.maxClasses = maxClasses
        contextLength = tower.config.contextLength
        width = projectionDim
        ids = .allocate(capacity: maxClasses * contextLength)
        embeddings = .allocate(capacity: maxClasses * projectionDim)
        scratch = .allocate(capacity: maxClasses * projectionDim)
    }

    deinit {
        ids.deallocate()
        embeddings.deallocate()
        scratch.deallocate()
    }

    /// The rows R_r = [C r / P, C (r + 1) / P) of `count` classes that rank r of P owns: in rank order, sizes that
    /// differ by at most one.
    static func rows(of rank: Int, ranks: Int, count: Int) -> Range<Int> {
        (count * rank / ranks)..<(count * (rank + 1) / ranks)
    }

    /// Chunks of at most n rows (the tower's capacity) of this rank's R_r, in order.
    private var chunks: [Range<Int>] {
        let own = Self.rows(of: group.rank, ranks: group.size, count: count)
        return stride(from: own.lowerBound, to: own.upperBound, by: tower.capacity).map {
            $0..<min($0 + tower.capacity, own.upperBound)
        }
    }

    /// The token ids (C, context) of the texts last set (what a coupled method conditions on each image).
    var tokenIDs: UnsafePointer<Int32> { UnsafePointer(ids) }

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
        let own = Self.rows(of: group.rank, ranks: group.size, count: count)
        for rows in chunks {
            let output = tower.forward(ids: ids + rows.lowerBound * contextLength, prompts: prompts, batch: rows.count)
            (scratch + (rows.lowerBound - own.lowerBound) * width).update(from: output, count: rows.count * width)
        }
        let counts = (0..<group.size).map { Self.rows(of: $0, ranks: group.size, count: count).count * width }
        group.allgatherv(UnsafeBufferPointer(start: scratch, count: counts[group.rank]), counts: counts,
                         into: UnsafeMutableBufferPointer(start: embeddings, count: count * width))
        return UnsafePointer(embeddings)
    }

    /// Back-propagates this rank's dT (C, E) of the last `forward` (same prompts, no other use of the tower in
    /// between), summed over the ranks, through this rank's classes into `promptGradients` (`+=`).
    func backward(dEmbeddings: UnsafePointer<Float>, prompts: [PromptValues], promptGradients: [PromptGradient?]) {
        let summed = UnsafeMutableBufferPointer(start: scratch, count: count * width)
        _ = summed.update(fromContentsOf: UnsafeBufferPointer(start: dEmbeddings, count: summed.count))
        group.allreduceSum(summed)
        let all = chunks
        for (j, rows) in all.enumerated().reversed() {
            if j != all.count - 1 {
                _ = tower.forward(ids: ids + rows.lowerBound * contextLength, prompts: prompts, batch: rows.count)
            }
            tower.backward(dEmbeds: scratch + rows.lowerBound * width, promptGradients: promptGradients,
                           batch: rows.count)
        }
    }
}
