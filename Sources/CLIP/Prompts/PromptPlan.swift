/// Where a tower's deep prompts sit and how each prompted layer treats them.
///
/// A site at layer i acts on the input of encoder layer i (for the vision tower's layer 0, on the
/// embeddings before `pre_layrnorm`, as MaPLe does; for the text tower's layer 0, on the token
/// embeddings before the positional embedding is added, as CoOp and MaPLe do). The prompt tokens form
/// one contiguous block of rows in each sequence:
/// ```
/// vision, .afterClassToken:  [CLS, p_1 .. p_c, patch_1 .. patch_P]        (VPT)
/// vision, .afterPatches:     [CLS, patch_1 .. patch_P, p_1 .. p_c]        (NSP2's official code)
/// text:                      [SOT, p_1 .. p_c, w_1 .. w_k, EOT, pad ..]   (CoOp / MaPLe; EOT moves by c)
/// ```
/// Modes, with X the block arriving from the layer below and P the site's values (c tokens, or (B, c)):
/// ```
/// .insert   X <- [X ; P]                 (appends c new tokens; the first site of a tower is always an insert)
/// .insert, removed r:
///           X <- [X[..<n-r] ; P]         (drops the last r of the n rows first: MPL's remove-then-add, n - r carried)
/// .replace  X <- P                       (VPT-deep, MaPLe)
/// .add      X <- X + P                   (LPI, eq. 1)
/// ```
/// Layers without a site carry the block unchanged. A removed row's output gets no gradient from the layers
/// above; the carried rows' gradients flow down as any token's.
public struct PromptPlan: Sendable, Equatable {
    public enum Mode: String, Sendable, Codable { case insert, replace, add }
    public enum Placement: String, Sendable, Codable { case afterClassToken, afterPatches }

    public struct Site: Sendable, Equatable, Codable {
        public let layer: Int
        public let tokens: Int
        public let mode: Mode
        /// Rows dropped from the end of the arriving block before an insert (0 for the other modes).
        public let removed: Int
        public init(layer: Int, tokens: Int, mode: Mode, removed: Int = 0) {
            self.layer = layer
            self.tokens = tokens
            self.mode = mode
            self.removed = removed
        }

        enum CodingKeys: String, CodingKey { case layer, tokens, mode, removed }

        /// `removed` may be absent (files written before it existed); it is written only when not 0.
        public init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            layer = try container.decode(Int.self, forKey: .layer)
            tokens = try container.decode(Int.self, forKey: .tokens)
            mode = try container.decode(Mode.self, forKey: .mode)
            removed = try container.decodeIfPresent(Int.self, forKey: .removed) ?? 0
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(layer, forKey: .layer)
            try container.encode(tokens, forKey: .tokens)
            try container.encode(mode, forKey: .mode)
            if removed != 0 { try container.encode(removed, forKey: .removed) }
        }

        /// The block's size after this site, given `count` rows before it.
        func count(after count: Int) -> Int { mode == .insert ? count - removed + tokens : count }
    }

    public let sites: [Site]
    public let placement: Placement

    /// No prompts: plain CLIP.
    public static let none = PromptPlan(uncheckedSites: [], placement: .afterClassToken)

    /// Checks the plan against a tower of `layers` layers; sites must have increasing layers.
    public init(sites: [Site], placement: Placement = .afterClassToken, layers: Int) throws {
        var count = 0
        var previousLayer = -1
        for site in sites {
            guard site.layer > previousLayer, site.layer < layers else {
                throw PromptPlanError("site layers must increase within 0..<\(layers); got \(site.layer) after \(previousLayer)")
            }
            guard site.tokens > 0 else { throw PromptPlanError("site at layer \(site.layer) has \(site.tokens) tokens") }
            guard site.removed == 0 || (site.mode == .insert && site.removed > 0 && site.removed <= count) else {
                throw PromptPlanError("site at layer \(site.layer) removes \(site.removed) tokens: an insert may remove 1...\(count) "
                                      + "(the block it acts on), other modes none")
            }
            switch site.mode {
            case .insert: count = site.count(after: count)
            case .replace, .add:
                guard count == site.tokens else {
                    throw PromptPlanError("\(site.mode.rawValue) at layer \(site.layer) needs \(count) tokens (the block it acts on), got \(site.tokens)")
                }
            }
            previousLayer = site.layer
        }
        self.init(uncheckedSites: sites, placement: placement)
    }

    private init(uncheckedSites: [Site], placement: Placement) {
        self.sites = uncheckedSites
        self.placement = placement
    }

    /// Prompt tokens in the input of each layer 0..<layers (after that layer's site).
    public func promptCounts(layers: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: layers)
        var count = 0
        var next = 0
        for layer in 0..<layers {
            if next < sites.count, sites[next].layer == layer {
                count = sites[next].count(after: count)
                next += 1
            }
            counts[layer] = count
        }
        return counts
    }

    /// The site at `layer`, if any.
    public func site(at layer: Int) -> Site? { sites.first { $0.layer == layer } }

    /// Total prompt tokens inserted at layer 0 (they count against the text context length).
    public var tokensAtFirstLayer: Int { site(at: 0)?.tokens ?? 0 }
}

/// A prompt plan that cannot work, with the reason.
public struct PromptPlanError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = "prompt plan: " + message }

    /// A method asked to prompt no layer at all.
    public static let noLayers = PromptPlanError("no prompted layers")

    /// A prompt depth (layers prompted from the first) outside 1...layers.
    public static func depth(_ depth: Int, layers: Int) -> PromptPlanError {
        PromptPlanError("prompt depth \(depth) is outside 1...\(layers), the layers of the towers")
    }

    /// A depth for LPI-P's cross-modal fusion (before prompted layers 2 ... D) outside 2...layers.
    public static func fusionDepth(_ depth: Int, layers: Int) -> PromptPlanError {
        PromptPlanError("prompt depth \(depth) is outside 2...\(layers): cross-modal fusion needs two prompted layers "
                        + "and the towers have \(layers)")
    }

    /// Text prompts at layer 0 that leave no room for SOT and EOT in the context.
    public static func noRoom(tokens: Int, context: Int) -> PromptPlanError {
        PromptPlanError("\(tokens) text prompt tokens at layer 0 leave no room for SOT and EOT in a context of \(context)")
    }
}

/// The values for one site: `tokens` rows of width D, shared by the batch (`batchStride` 0)
/// or one block per sample (`batchStride` = tokens * D).
public struct PromptValues {
    public let pointer: UnsafePointer<Float>
    public let batchStride: Int
    public init(_ pointer: UnsafePointer<Float>, batchStride: Int = 0) {
        self.pointer = pointer
        self.batchStride = batchStride
    }
}

/// Where a site's gradient accumulates (`+=`): shared (`batchStride` 0, summed over the batch) or per sample.
public struct PromptGradient {
    public let pointer: UnsafeMutablePointer<Float>
    public let batchStride: Int
    public init(_ pointer: UnsafeMutablePointer<Float>, batchStride: Int = 0) {
        self.pointer = pointer
        self.batchStride = batchStride
    }
}
