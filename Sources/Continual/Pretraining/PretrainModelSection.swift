/// `[model]` of a pretraining: only `[model.random]`, the shapes of the CLIP trained from random weights
/// (transformers' initialisation, seeded by the run's `seed`) with the CLIP vocabulary bundled with promptcl.
public struct PretrainModelSection: Codable, Equatable, Sendable {
    public var random = RandomModelSection()

    public init() {}
}
