import CLIP
import Numerics

/// LPI-P's stage B: the text tower over captions, conditioned on one image through the fused text prompt rows that
/// stage A (`CrossModalLockStep`) computed for it: f_t(caption | image).
///
/// ```
/// X_0 = [tok(SOT) ; P^l_0 ; tok(caption)] + pos                   site 0: insert P^l_0 (as in stage A's prefix)
/// before layer l, 1 <= l < D:  prompt rows <- fusedText(l)[image]  .replace, one image's rows for every caption
/// text_embeds = LN_final(Y[eot + L]) W_proj^T                      (C, E) for C captions
/// ```
/// With the causal mask the rows replaced at layer l equal those this tower would compute itself up to the fusion,
/// so the result is the text tower run in lock-step with the image's vision tower (LPI, eq. 6), without running the
/// vision tower once per caption. The backward accumulates (`+=`) the replaced rows' gradient, summed over the
/// captions, into stage A's `fusedTextGradient` rows of the image, and P^l_0's gradient into `firstPromptGradient`.
/// The tower keeps the activations of one forward (one image's captions): a training step that needs every
/// (caption, image) pair runs the forward of each image twice, once for the loss and once before its backward.
///
/// Cost: CLIP's loss compares every caption with every image, so a step of B pairs runs B^2 conditioned captions
/// (2 B^2 text forwards and B^2 backwards) where LPI-M runs B. `promptcl bench lpi-p` (ViT-B/16 shapes, D 9, L 16,
/// captions of 20 tokens, 2 threads of a shared machine, release build), step times in seconds:
/// ```
/// batch   LPI-M   LPI-P   stage A   stage B forward   stage B forward + backward
///     4     8.2    14.2       7.5               1.0                          2.6
///     8    13.9    26.3      14.4               4.0                          8.0
///    16    33.2    80.2      30.8              21.5                         27.9
/// ```
/// Stage A costs about what LPI-M's two towers cost; stage B grows as B^2 (0.06-0.08 s per pair forward, about
/// 0.12 s per pair again for the backward), so at the paper's batch of 64 it would dominate (about 7x LPI-M's step).
public final class ConditionedTextTower {
    public let depth: Int
    public let tokens: Int
    /// insert at layer 0, replace at 1 ..< D.
    public let plan: PromptPlan
    public let text: TextTower
    private var image = 0
    private var count = 0

    /// - Throws: `PromptPlanError` as `CrossModalLockStep` (depth outside 2 ... layers, no room in the context).
    public init(model: CLIPModel, depth: Int, tokens: Int, capacity: Int) throws {
        let config = model.config
        let layers = min(config.vision.encoder.layers, config.text.encoder.layers)
        guard depth >= 2, depth <= layers else { throw PromptPlanError.fusionDepth(depth, layers: layers) }
        guard config.text.contextLength - tokens >= 2 else {
            throw PromptPlanError.noRoom(tokens: tokens, context: config.text.contextLength)
        }
        self.depth = depth
        self.tokens = tokens
        plan = try PromptPlan(sites: (0..<depth).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : .replace) },
                              layers: config.text.encoder.layers)
        text = TextTower(model: model, capacity: capacity, plan: plan)
    }

    /// Text embeddings (C, E) of `count` captions `ids` (C, context) paired with image `image` of `stage`'s last
    /// forward; `firstPrompt` is P^l_0 (L, d_l), as stage A's text prompt at layer 0. Valid until the next forward.
    @discardableResult
    public func forward(ids: UnsafePointer<Int32>, count: Int, stage: CrossModalLockStep, image: Int,
                        firstPrompt: PromptValues) -> UnsafePointer<Float> {
        precondition(stage.depth == depth && stage.tokens == tokens, "stage A of depth \(stage.depth) and \(stage.tokens) tokens")
        self.image = image
        self.count = count
        let prompts = [firstPrompt] + (1..<depth).map { PromptValues(stage.fusedText(layer: $0).rows(image)) }
        return text.forward(ids: ids, prompts: prompts, batch: count)
    }

    /// Back-propagates dtext_embeds (C, E) of the last forward: the fused rows' gradients into `stage`'s
    /// `fusedTextGradient` of that image, P^l_0's into `firstPromptGradient` (`+=`).
    public func backward(dEmbeds: UnsafePointer<Float>, stage: CrossModalLockStep, firstPromptGradient: PromptGradient?) {
        let width = text.config.encoder.hiddenSize
        let gradients = [firstPromptGradient] + (1..<depth).map {
            PromptGradient(stage.fusedTextGradient(layer: $0) + image * tokens * width) as PromptGradient?
        }
        text.backward(dEmbeds: dEmbeds, promptGradients: gradients, batch: count)
    }
}
