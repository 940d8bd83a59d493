/// The procedural `SyntheticShapes` as a source to prepare: `samples` training samples drawn from the seed,
/// `samples / 4` test samples from another seed, rendered at the image size and stored as bytes:
/// ```
/// byte[c, y, x] = round(255 * clamp(pixel[c, y, x] * CLIPPixels.std[c] + CLIPPixels.mean[c], 0, 1))
/// ```
/// (the rendering's [0, 1] values, quantised as every prepared image is). Captions: the sample's one caption
/// ("a large red circle in the upper left").
public struct SyntheticSource: SourceDataset {
    /// The test split's seed is the preparation's seed XOR this ("test" in ASCII), so its samples are other draws.
    public static let testSeedMask: UInt64 = 0x7465_7374
    public let train: SyntheticShapes
    public let test: SyntheticShapes

    public init(samples: Int, imageSize: Int, seed: UInt64) throws {
        train = try SyntheticShapes(count: samples, imageSize: imageSize, seed: seed)
        test = try SyntheticShapes(count: max(1, samples / 4), imageSize: imageSize, seed: seed ^ Self.testSeedMask)
    }

    public var imageSize: Int { train.imageSize }
    public var classNames: [String] { train.classNames }
    public var fixedClassOrder: [Int]? { nil }
    public var notes: [String] {
        ["synthetic shapes: train \(train.count) samples from seed \(train.seed), test \(test.count) from seed "
         + "\(test.seed) (seed XOR 0x74657374); one caption per sample as rendered"]
    }

    public func count(of split: PreparedSplit) -> Int { set(split).count }

    public func read(_ index: Int, of split: PreparedSplit, into pixels: UnsafeMutablePointer<UInt8>) throws -> SourceSample {
        let shapes = set(split)
        let plane = imageSize * imageSize
        let rendered = UnsafeMutablePointer<Float>.allocate(capacity: 3 * plane)
        defer { rendered.deallocate() }
        shapes.writePixels(at: index, into: rendered)
        for c in 0..<3 {
            let (mean, std) = (CLIPPixels.mean[c], CLIPPixels.std[c])
            for i in c * plane ..< (c + 1) * plane {
                pixels[i] = UInt8((min(max(rendered[i] * std + mean, 0), 1) * 255).rounded())
            }
        }
        return SourceSample(label: shapes.label(at: index), captions: shapes.captions(at: index))
    }

    private func set(_ split: PreparedSplit) -> SyntheticShapes { split == .train ? train : test }
}
