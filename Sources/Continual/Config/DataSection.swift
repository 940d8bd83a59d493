/// `[data]`: what a run trains on. Prepared real datasets come with `promptcl prepare` (a later release);
/// today the procedural `SyntheticShapes` (48 classes: 8 colours x 6 shapes, with captions), generated
/// from the run's seed at the model's image size, needs no files.
public struct DataSection: Codable, Equatable, Sendable {
    public enum Dataset: String, Codable, Sendable, CaseIterable {
        case synthetic
        /// The benchmarks of the configs under configs/nsp2/ and configs/lpi/: named so those configs load today;
        /// reading them needs `promptcl prepare` (not in this release), and a run says so.
        case cifar100, imagenetR = "imagenet-r", domainnet, coco
        case fashionMNIST = "fashion-mnist"
    }

    public var dataset = Dataset.synthetic
    /// Training samples of the synthetic set (spread evenly over its 48 classes).
    public var samples = 1920

    public init() {}

    func validate() throws {
        try ConfigCheck.that(samples > 0, "data.samples", "must be > 0, got \(samples)")
    }
}
