/// What `promptcl prepare` was asked to make: a rerun into the same directory must ask for the same.
public struct PreparationSettings: Codable, Equatable, Sendable {
    public var dataset: DataSection.Dataset
    /// The source directory, absolute ("" for the synthetic set, which needs none).
    public var source: String
    /// Side S of the prepared images, the model's input size.
    public var imageSize: Int
    /// Samples per shard.
    public var shardSize: Int
    /// Draws the class order (unless the dataset fixes it) and whatever else the reader draws.
    public var seed: UInt64
    /// Training samples of the synthetic set; nil for the others.
    public var samples: Int?

    public init(dataset: DataSection.Dataset, source: String, imageSize: Int, shardSize: Int, seed: UInt64,
                samples: Int? = nil) {
        self.dataset = dataset
        self.source = source
        self.imageSize = imageSize
        self.shardSize = shardSize
        self.seed = seed
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey {
        case dataset, source, seed, samples
        case imageSize = "image_size", shardSize = "shard_size"
    }

    /// "dataset fashion-mnist, source /data/fmnist, image size 32, shard size 10000, seed 0".
    public var summary: String {
        "dataset \(dataset.rawValue), source \(source.isEmpty ? "(none)" : source), image size \(imageSize), "
            + "shard size \(shardSize), seed \(seed)" + (samples.map { ", samples \($0)" } ?? "")
    }
}
