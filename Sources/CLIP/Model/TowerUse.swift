/// What a tower is built for, which decides what its arena holds (DESIGN.md, "memory is planned once").
///
/// ```
/// training:   every layer's activations (B, T_l, ...) for l = 0 ..< L, the backward's gradient scratch,
///             the head's and the tower's gradient buffers (the linear layers' inputs once for all layers
///             when the tower's weights get no gradient)
/// inference:  one layer's intermediates sized for the largest layer, shared by all layers, and two input
///             buffers X_l / X_{l+1} used in turn (ping-pong); no gradient buffer at all
/// ```
/// The caller says what it will do with the tower (the trainer's towers back-propagate; evaluation, frozen
/// features and `promptcl embed` only run forward), and the tower derives its memory from that. An inference
/// tower runs `forward` and the layer-by-layer forward (`beginForward`, `forwardLayer`, `finishForward`, the
/// prompt rows of the layer about to run), and stops with a precondition failure naming the mode on anything
/// that reads another layer's activations afterwards: the backward, prompt-row gradients, NSP2's attention
/// records. For ViT-B/16 at batch 8 it holds about a tenth of the training tower's workspace.
public enum TowerUse: Sendable {
    /// Forward and backward, layer by layer or whole: the default.
    case training
    /// Forward only, in a fraction of the memory.
    case inference
}
