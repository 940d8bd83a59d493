import CLIP
import Numerics

/// DCP, "Deeply Coupled Cross-Modal Prompt Learning" (Liu et al., Findings of ACL 2023; code GingL/CMPA): deep
/// prompts in the first `depth` layers of both towers, where the prompts of layer l come from those of layer
/// l - 1 of BOTH towers through a Cross-Modal Prompt Attention (CMPA): queries made from the other tower's prompts
/// attend to this tower's prompts (keys and values). In the continual benchmarks it is trained task after task with
/// one shared set (as LPI compares it).
///
/// ```
/// parameters: dcp.layer0.vision             (n, Dv)     V_0
///             dcp.layer0.text               (n, Dt)     T_0
///             dcp.layer{l}.cmpa.vision.*    C^v_l: PromptAttentionBranch (Dv from Dt), 1 <= l < depth
///             dcp.layer{l}.cmpa.text.*      C^t_l: PromptAttentionBranch (Dt from Dv)
///             (sharedAttention: one dcp.cmpa.vision.*, dcp.cmpa.text.* for every l)
/// layer 0:        V_0, T_0                                         (inserted: vision after the patches, text after SOT)
/// layer l >= 1:   V_l = C^v_l(V_{l-1}; T_{l-1})                     (replace, in both towers)
///                 T_l = C^t_l(T_{l-1}; V_{l-1})                     both from the same pair (l - 1)
/// C^v(X; X_o) = R + MLP(LN_2(R)),  R = X + MHA(q = LN_1(X_o W_p^T + b_p), k = v = LN_1(X))    (PromptAttentionBranch)
/// backward:   from l = depth - 1 down to 1, (dV_l, dT_l) (the towers' gradients plus what layer l + 1 sent down)
///             go through C^v_l and C^t_l into dV_{l-1}, dT_{l-1} and the CMPA tensors; dV_0, dT_0 are the
///             gradients of the learned prompts
/// ```
/// Per CMPA module on CLIP ViT-B/16 (Dv 768 with 12 heads, Dt 512 with 8): 11,027,968 parameters (vision branch
/// 7,481,856 with its 512 -> 768 projection, text branch 3,546,112 with its 768 -> 512 one).
///
/// What the official code does (GingL/CMPA: clip/model.py `PromptAttention`, `ResidualAttentionBlock_CMPA`;
/// trainers/cmpa.py; scripts/cmpa/main.sh): `PromptAttention` is the block above, query from the other tower
/// projected into this one's width (`proj_t2v`, `proj_v2t`), keys and values from this tower, one LayerNorm
/// (`ln_pa_1_*`) on both, the residual on this tower's prompts, then a pre-LN QuickGELU MLP of width 4D; heads
/// D / 64; the text branch reads the vision prompts before the vision branch updates them. The released
/// script trains N_CTX 16 tokens, PROMPT_DEPTH 9, FUSING mean, PS (parameter sharing) True; train.py's default
/// N_CTX is 2. The paper's own text could not be read here (only its abstract: "a Cross-Modal Prompt Attention
/// (CMPA) mechanism, which enables the mutual exchange of respective representation through a well-connected
/// multi-head attention module progressively and strongly"), so where the code has a choice this type takes the
/// reading a careful reimplementation would, and says which:
/// - What CMPA reads. The code feeds it the OUTPUTS of block l - 1 at the prompt positions, pooled over the batch
///   (FUSING: the mean, first or max sample, because its text batch is the class list and its image batch the
///   images) and broadcast back to every sample. Here CMPA maps the prompts of layer l - 1 to those of layer l
///   (as MaPLe's coupling maps its prompts), so every layer's prompts are a function of the parameters alone and
///   the same for every sample. The code's reading is not offered: it needs the two towers run in lockstep with a
///   hook between every pair of layers, and its batch pooling makes each sample's features depend on the rest of
///   its batch, so that a retrieval gallery's image features would depend on the captions beside them and on how
///   the global batch is split over ranks (the data-parallel results would no longer equal the 1-rank ones).
/// - Sharing. The default is one CMPA module per coupled layer (PS False), the count LPI's Table 4 reports for
///   DCP (8 x 11.03M = 88.22M of its 88.36M); `sharedAttention` is the released script's PS True (one module for
///   every layer, 11.05M in all).
/// - Depth. `depth` counts the prompted layers from the first, as MaPLe's: depth - 1 CMPA maps. The code compares
///   its counter with PROMPT_DEPTH instead of PROMPT_DEPTH - 1 and so couples blocks 1 ... 9 at PROMPT_DEPTH 9 (10
///   prompted layers, depth 10 here); with PS False it also builds a `PromptAttention` in all 12 blocks, the unused
///   ones trainable but gradient-free. Here only the depth - 1 used ones are declared.
/// - Heads: each tower's own head count (the code's D / 64 is CLIP's 12 and 8).
///
/// Defaults: n = 16 tokens, depth 9, one CMPA per layer. Initialisation as torch initialises the code's modules
/// (`PromptAttentionBranch.initialize`); V_0 and T_0 N(0, 0.02), as the code's (it starts T_0 from the words
/// "a photo of a" only for N_CTX <= 4; here T_0 is always random and the captions are the dataset's). Float32
/// throughout (the code runs fp16).
public final class DeeplyCoupledPrompts: PromptMethod {
    public let tokens: Int
    public let depth: Int
    public let sharedAttention: Bool
    public let visionWidth: Int
    public let textWidth: Int
    public let visionPlan: PromptPlan
    public let textPlan: PromptPlan
    /// C^v: the vision prompts from the pair below.
    public let visionBranch: PromptAttentionBranch
    /// C^t: the text prompts from the pair below.
    public let textBranch: PromptAttentionBranch
    private let backend: Gemm.Backend
    /// V_l, T_l for l in 1 ..< depth, (depth - 1, n, D) each, built in `prepare`.
    private let deepVision = PromptScratch()
    private let deepText = PromptScratch()
    /// dV_l, dT_l in the same layout: the towers' gradients, then what the layer above sends down.
    private let deepVisionGradients = PromptScratch()
    private let deepTextGradients = PromptScratch()
    /// Per coupled layer, the vision branch's record then the text branch's.
    private let records = PromptScratch()
    /// The backward's scratch, for either branch.
    private let workspace = PromptScratch()

    /// DCP on `model` with `tokens` prompts per layer in each tower, `depth` prompted layers and a CMPA module per
    /// coupled layer, or one for all with `sharedAttention`. `backend` picks the GEMMs (`.naive`: the reference).
    public init(model: CLIPConfig, tokens: Int = 16, depth: Int = 9, sharedAttention: Bool = false,
                backend: Gemm.Backend = .blas) throws {
        let layers = min(model.vision.encoder.layers, model.text.encoder.layers)
        guard depth >= 1, depth <= layers else {
            throw PromptPlanError.depth(depth, layers: layers)
        }
        precondition(tokens > 0, "dcp: \(tokens) tokens")
        self.tokens = tokens
        self.depth = depth
        self.sharedAttention = sharedAttention
        self.backend = backend
        let vision = model.vision.encoder, text = model.text.encoder
        visionWidth = vision.hiddenSize
        textWidth = text.hiddenSize
        visionBranch = PromptAttentionBranch(tokens: tokens, width: visionWidth, otherWidth: textWidth,
                                             heads: vision.attentionHeads)
        textBranch = PromptAttentionBranch(tokens: tokens, width: textWidth, otherWidth: visionWidth,
                                           heads: text.attentionHeads)
        let sites = (0..<depth).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : .replace) }
        visionPlan = try PromptPlan(sites: sites, placement: .afterPatches, layers: vision.layers)
        textPlan = try PromptPlan(sites: sites, layers: text.layers)
        let coupled = depth - 1
        deepVision.reserve(coupled * tokens * visionWidth)
        deepText.reserve(coupled * tokens * textWidth)
        deepVisionGradients.reserve(coupled * tokens * visionWidth)
        deepTextGradients.reserve(coupled * tokens * textWidth)
        records.reserve(coupled * (visionBranch.recordCount + textBranch.recordCount))
        workspace.reserve(max(visionBranch.workspaceCount, textBranch.workspaceCount))
    }

    public var name: String { "dcp" }

    private let visionPromptName = "dcp.layer0.vision"
    private let textPromptName = "dcp.layer0.text"
    /// The prefix of the CMPA module that makes layer `layer`'s prompts (1 ..< depth).
    private func modulePrefix(_ layer: Int) -> String { sharedAttention ? "dcp.cmpa" : "dcp.layer\(layer).cmpa" }
    /// The layers whose CMPA module has its own tensors: 1 alone when shared.
    private var declaredModules: [Int] { sharedAttention ? (depth > 1 ? [1] : []) : Array(1..<depth) }

    public func declare(into layout: inout ParameterLayout) {
        layout.append(visionPromptName, [tokens, visionWidth])
        layout.append(textPromptName, [tokens, textWidth])
        for layer in declaredModules {
            for (name, shape) in PromptAttentionTensors.shapes(prefix: modulePrefix(layer) + ".vision",
                                                               own: visionWidth, other: textWidth)
                + PromptAttentionTensors.shapes(prefix: modulePrefix(layer) + ".text", own: textWidth, other: visionWidth) {
                layout.append(name, shape)
            }
        }
    }

    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        generator.fillNormal(values[visionPromptName], count: tokens * visionWidth, std: 0.02)
        generator.fillNormal(values[textPromptName], count: tokens * textWidth, std: 0.02)
        for layer in declaredModules {
            visionBranch.initialize(PromptAttentionTensors(prefix: modulePrefix(layer) + ".vision", in: values),
                                    generator: &generator)
            textBranch.initialize(PromptAttentionTensors(prefix: modulePrefix(layer) + ".text", in: values),
                                  generator: &generator)
        }
    }

    // MARK: Where each layer's prompts and gradients live

    /// V_layer: the learned V_0 in `buffer`, or the computed one in `scratch`.
    private func vision(_ layer: Int, _ buffer: ParameterBuffer, _ scratch: PromptScratch) -> UnsafeMutablePointer<Float> {
        layer == 0 ? buffer[visionPromptName] : scratch.pointer + (layer - 1) * tokens * visionWidth
    }

    private func text(_ layer: Int, _ buffer: ParameterBuffer, _ scratch: PromptScratch) -> UnsafeMutablePointer<Float> {
        layer == 0 ? buffer[textPromptName] : scratch.pointer + (layer - 1) * tokens * textWidth
    }

    /// The records of the two branches that made layer `layer`'s prompts.
    private func layerRecords(_ layer: Int) -> (vision: PromptAttentionRecord, text: PromptAttentionRecord) {
        let base = records.pointer + (layer - 1) * (visionBranch.recordCount + textBranch.recordCount)
        return (PromptAttentionRecord(base, tokens: tokens, width: visionWidth, heads: visionBranch.heads),
                PromptAttentionRecord(base + visionBranch.recordCount, tokens: tokens, width: textWidth,
                                      heads: textBranch.heads))
    }

    // MARK: Hooks

    /// V_l, T_l = CMPA_l(V_{l-1}, T_{l-1}) for l = 1 ..< depth; the deep prompts' gradients start at zero.
    public func prepare(values: ParameterBuffer, batch: PromptBatch) {
        for layer in 1..<depth {
            let prefix = modulePrefix(layer)
            let (visionRecord, textRecord) = layerRecords(layer)
            let below = (vision: vision(layer - 1, values, deepVision), text: text(layer - 1, values, deepText))
            visionBranch.forward(backend, weights: PromptAttentionTensors(prefix: prefix + ".vision", in: values),
                                 own: below.vision, other: below.text, record: visionRecord,
                                 into: vision(layer, values, deepVision))
            textBranch.forward(backend, weights: PromptAttentionTensors(prefix: prefix + ".text", in: values),
                               own: below.text, other: below.vision, record: textRecord,
                               into: text(layer, values, deepText))
        }
        deepVisionGradients.zeroed((depth - 1) * tokens * visionWidth)
        deepTextGradients.zeroed((depth - 1) * tokens * textWidth)
    }

    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        (0..<depth).map { PromptValues(vision($0, values, deepVision)) }
    }

    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        (0..<depth).map { PromptGradient(vision($0, gradients, deepVisionGradients)) }
    }

    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        (0..<depth).map { PromptValues(text($0, values, deepText)) }
    }

    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        (0..<depth).map { PromptGradient(text($0, gradients, deepTextGradients)) }
    }

    /// In the forward this was V_l, T_l = CMPA_l(V_{l-1}, T_{l-1}): from the top coupled layer down, each layer's
    /// complete gradient (the towers' and the layer above's) goes through its two branches into the pair below
    /// and the module's tensors (`+=`); what reaches layer 0 adds to the towers' gradient of V_0 and T_0.
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        for layer in stride(from: depth - 1, through: 1, by: -1) {
            let prefix = modulePrefix(layer)
            let (visionRecord, textRecord) = layerRecords(layer)
            let below = (vision: vision(layer - 1, values, deepVision), text: text(layer - 1, values, deepText))
            let dBelow = (vision: vision(layer - 1, gradients, deepVisionGradients),
                          text: text(layer - 1, gradients, deepTextGradients))
            visionBranch.backward(backend, weights: PromptAttentionTensors(prefix: prefix + ".vision", in: values),
                                  gradients: PromptAttentionTensors(prefix: prefix + ".vision", in: gradients),
                                  own: below.vision, other: below.text, record: visionRecord,
                                  dOutput: vision(layer, gradients, deepVisionGradients),
                                  dOwn: dBelow.vision, dOther: dBelow.text, workspace: workspace.pointer)
            textBranch.backward(backend, weights: PromptAttentionTensors(prefix: prefix + ".text", in: values),
                                gradients: PromptAttentionTensors(prefix: prefix + ".text", in: gradients),
                                own: below.text, other: below.vision, record: textRecord,
                                dOutput: text(layer, gradients, deepTextGradients),
                                dOwn: dBelow.text, dOther: dBelow.vision, workspace: workspace.pointer)
        }
        return 0
    }
}
