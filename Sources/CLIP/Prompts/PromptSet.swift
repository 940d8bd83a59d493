import Foundation

/// Learned prompts of both towers with the plans that place them: the `prompts.safetensors` format.
///
/// ```
/// tensors   vision.site{i}: (tokens_i, D_vision)    text.site{i}: (tokens_i, D_text)
/// metadata  "plans": {"vision": {"placement": "afterClassToken", "sites": [{"layer": 0, "tokens": 4, "mode": "insert"}, ...]},
///                     "text": {"sites": [...]}}
///           (a site that removes rows before its insert, MPL, also has "removed": r)
/// ```
/// Readable by PyTorch's safetensors; the plan JSON says how to apply the tensors.
public struct PromptSet {
    public var vision: PromptPlan
    public var text: PromptPlan
    /// Values per site, (tokens, D) row-major, in site order.
    public var visionValues: [[Float]]
    public var textValues: [[Float]]

    public init(vision: PromptPlan, text: PromptPlan, visionValues: [[Float]], textValues: [[Float]]) {
        self.vision = vision
        self.text = text
        self.visionValues = visionValues
        self.textValues = textValues
    }

    /// Reads a prompt file and checks it against the model it will be applied to.
    public init(contentsOf url: URL, config: CLIPConfig) throws {
        let file = try SafetensorsFile(contentsOf: url)
        guard let json = file.metadata["plans"] else {
            throw PromptSetError(url, "no \"plans\" entry in the safetensors metadata: not a PromptCL prompt file")
        }
        let description: PlansDescription
        do {
            description = try JSONDecoder().decode(PlansDescription.self, from: Data(json.utf8))
        } catch {
            throw PromptSetError(url, "the \"plans\" metadata is not a valid plan description (\(error))")
        }
        do {
            vision = try description.vision.plan(layers: config.vision.encoder.layers)
            text = try description.text.plan(layers: config.text.encoder.layers)
        } catch {
            throw PromptSetError(url, "\(error)")
        }
        let room = config.text.contextLength - text.tokensAtFirstLayer
        guard room >= 2 else {
            throw PromptSetError(url, "\(text.tokensAtFirstLayer) text prompt tokens at layer 0 leave no room for SOT and EOT in the context of \(config.text.contextLength)")
        }
        visionValues = try Self.read(file, tower: "vision", plan: vision, width: config.vision.encoder.hiddenSize, url: url)
        textValues = try Self.read(file, tower: "text", plan: text, width: config.text.encoder.hiddenSize, url: url)
    }

    /// Writes the prompt file atomically.
    public func write(to url: URL) throws {
        try writer().write(to: url)
    }

    /// A safetensors writer holding the site tensors and the plans, with `metadata` added, to which a caller
    /// may add tensors of its own before writing (the trainer adds its trainable tensors by name).
    public func writer(metadata: [String: String] = [:]) throws -> SafetensorsWriter {
        let plans = PlansDescription(vision: .init(vision), text: .init(text))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var allMetadata = metadata
        allMetadata["plans"] = String(decoding: try encoder.encode(plans), as: UTF8.self)
        var writer = SafetensorsWriter(metadata: allMetadata)
        for (tower, plan, values) in [("vision", vision, visionValues), ("text", text, textValues)] {
            for (index, site) in plan.sites.enumerated() {
                try writer.add("\(tower).site\(index)", shape: [site.tokens, values[index].count / site.tokens],
                               floats: values[index])
            }
        }
        return writer
    }

    private static func read(_ file: SafetensorsFile, tower: String, plan: PromptPlan, width: Int, url: URL) throws -> [[Float]] {
        try plan.sites.enumerated().map { index, site in
            let name = "\(tower).site\(index)"
            guard let info = file.info(name) else { throw PromptSetError(url, "missing tensor \(name) for the \(tower) site at layer \(site.layer)") }
            guard info.shape == [site.tokens, width] else {
                throw PromptSetError(url, "\(name) has shape \(info.shape), expected [\(site.tokens), \(width)] (plan tokens, model width)")
            }
            return try file.floats(name)
        }
    }
}

/// The JSON form of two towers' plans.
struct PlansDescription: Codable {
    struct Tower: Codable {
        var placement: PromptPlan.Placement?
        var sites: [PromptPlan.Site]

        init(_ plan: PromptPlan) {
            placement = plan.placement
            sites = plan.sites
        }

        func plan(layers: Int) throws -> PromptPlan {
            try PromptPlan(sites: sites, placement: placement ?? .afterClassToken, layers: layers)
        }
    }

    var vision: Tower
    var text: Tower
}

/// A prompt file that cannot be used, naming the file and the problem.
public struct PromptSetError: Error, CustomStringConvertible {
    public let description: String
    init(_ url: URL, _ problem: String) { description = "\(url.path): \(problem)" }
}
