/// `[data]`: what a run trains on: a directory `promptcl prepare` wrote (`path`, its train split through
/// `PreparedDataset`, with the class order its manifest recorded), or, when `path` is empty, the procedural
/// `SyntheticShapes` (48 classes: 8 colours x 6 shapes, with captions) generated from the run's seed at the
/// model's image size, which needs no files.
public struct DataSection: Codable, Equatable, Sendable {
    public enum Dataset: String, Codable, Sendable, CaseIterable {
        case synthetic
        /// The benchmarks of the configs under configs/nsp2/ and configs/lpi/, and Fashion-MNIST for the demo: a
        /// run reads them from `path`, prepared by `promptcl prepare --dataset NAME`.
        case cifar100, imagenetR = "imagenet-r", domainnet, coco
        case fashionMNIST = "fashion-mnist"
    }

    /// Must be the prepared directory's dataset when `path` is set.
    public var dataset = Dataset.synthetic
    /// A prepared directory (`promptcl prepare --out`); "" for the synthetic set generated on the fly.
    public var path = ""
    /// Training samples of the synthetic set generated on the fly (spread evenly over its 48 classes).
    public var samples = 1920
    /// At most this many training samples per class (`ClassSubset`, seeded), 0 for all: a quicker run on a
    /// large dataset. With tasks.split = "domain", per class in each domain.
    public var perClass = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case dataset, path, samples
        case perClass = "per_class"
    }

    func validate() throws {
        try ConfigCheck.that(samples > 0, "data.samples", "must be > 0, got \(samples)")
        try ConfigCheck.that(perClass >= 0, "data.per_class", "must be >= 0 (0: all), got \(perClass)")
    }
}
