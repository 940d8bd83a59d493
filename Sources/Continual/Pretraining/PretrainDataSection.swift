/// `[data]` of a pretraining: pairs of the procedural `SyntheticShapes` (image, caption) at the model's image
/// size. The held-out pairs are a second draw from another stream of the run's seed (other placements, jitter,
/// noise and wording of the same 48 classes), never trained on; the evaluation reads them.
public struct PretrainDataSection: Codable, Equatable, Sendable {
    /// Training pairs (spread evenly over the 48 classes).
    public var samples = 4800
    /// Held-out pairs for the evaluation before and after training.
    public var heldOut = 480

    public init() {}

    enum CodingKeys: String, CodingKey {
        case samples
        case heldOut = "held_out"
    }

    func validate() throws {
        try ConfigCheck.that(samples > 0, "data.samples", "must be > 0, got \(samples)")
        try ConfigCheck.that(heldOut > 0, "data.held_out", "must be > 0, got \(heldOut)")
    }
}
