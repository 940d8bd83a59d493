import ArgumentParser
import CLIP
import Prompting

/// What `bench step` and `bench eval` measure, on ViT-B/16 shapes with random weights (`--shape`):
/// ```
/// vpt   vision tower, VPT-deep: c tokens (default 4) inserted after CLS at layer 0, replaced at layers 1 ... 11;
///       the step's loss is taken against fixed text embeddings          step model: vitBase16VisionBenchmark
/// lpi   vision tower, LPI's deep prompts (`LowRankPromptInteraction`'s plan): c tokens (default L = 16) inserted
///       after CLS at layer 0, added at layers 1 ... D - 1 (D = 9), fixed text embeddings as for vpt
///                                                                       step model: vitBase16VisionBenchmark
/// clip  both towers, VPT-deep in each (c tokens at every layer; text: inserted after SOT): the full contrastive
///       step on B image-caption pairs, backward through both towers to both towers' prompts
///                                                                       step model: vitBase16
/// ```
/// `bench eval` runs both towers for every shape (model: vitBase16); its text tower takes the shape's text
/// prompts, none for vpt and lpi.
enum BenchShape: String, CaseIterable, ExpressibleByArgument {
    case vpt, lpi, clip

    /// Prompt tokens per prompted layer unless `--prompts` says otherwise.
    var defaultTokens: Int { self == .lpi ? LPISettings().tokens : 4 }

    /// The `method` key of `bench step --json` (vpt's "vpt-seq" predates the shapes).
    var method: String {
        switch self {
        case .vpt: "vpt-seq"
        case .lpi: "lpi-vision"
        case .clip: "vpt-clip"
        }
    }

    /// The model of a step of this shape: the vision-only shapes carry a one-layer text tower they never run.
    var stepConfig: CLIPConfig { self == .clip ? .vitBase16 : .vitBase16VisionBenchmark }

    /// The vision tower's prompt plan for `tokens` per prompted layer.
    func visionPlan(tokens: Int, config: CLIPVisionConfig) throws -> PromptPlan {
        let layers = config.encoder.layers
        switch self {
        case .vpt, .clip:
            return try PromptPlan(sites: Self.deepSites(tokens: tokens, layers: layers, deeper: .replace),
                                  placement: .afterClassToken, layers: layers)
        case .lpi:
            return try PromptPlan(sites: Self.deepSites(tokens: tokens, layers: min(LPISettings().depth, layers), deeper: .add),
                                  placement: .afterClassToken, layers: layers)
        }
    }

    /// The text tower's prompt plan; nil where the step leaves the text tower out (`bench eval` runs it unprompted).
    func textPlan(tokens: Int, config: CLIPTextConfig) throws -> PromptPlan? {
        guard self == .clip else { return nil }
        let layers = config.encoder.layers
        return try PromptPlan(sites: Self.deepSites(tokens: tokens, layers: layers, deeper: .replace), layers: layers)
    }

    /// One line for a table's header.
    func summary(tokens: Int) -> String {
        switch self {
        case .vpt: "vpt-deep, vision: \(tokens) prompts x 12 layers (inserted, then replaced)"
        case .lpi: "lpi, vision: \(tokens) prompts x \(LPISettings().depth) layers (inserted, then added)"
        case .clip: "vpt-deep in both towers: \(tokens) prompts x 12 layers each (inserted, then replaced)"
        }
    }

    /// Sites at layers 0 ..< layers: an insert at 0, `deeper` above it.
    private static func deepSites(tokens: Int, layers: Int, deeper: PromptPlan.Mode) -> [PromptPlan.Site] {
        (0..<layers).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : deeper) }
    }
}
