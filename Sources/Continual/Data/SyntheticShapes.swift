import Numerics

/// A procedural image-caption benchmark for the demo and the tests: one coloured shape on a dark noisy
/// background, generated on demand from (seed, index), no files.
///
/// - Classes: (colour, shape) pairs, `SyntheticColour` (8) x `SyntheticShape` (6) = 48 classes,
///   `class = colour * 6 + shape`, named "red circle", "red square", ..., "orange diamond".
/// - Balance: labels are `index % 48` permuted by a seeded Fisher-Yates shuffle of all `count` indices,
///   so every class has exactly count / 48 samples when 48 divides count (otherwise floor or ceil).
/// - Each sample then draws, from its own stream `SeededStream(seed, index)`: a placement of nine
///   (upper left ... lower right, centre), small or large, jitter, brightness, background and a caption
///   template; see `SyntheticSample`. Captions read like "a large red circle in the upper left".
/// - Determinism: integer random streams (SplitMix64) and float arithmetic without transcendental functions,
///   so the same (seed, index, imageSize) gives the same bytes on every run and platform.
public struct SyntheticShapes: ImageTextDataset {
    public static let classCount = SyntheticColour.allCases.count * SyntheticShape.allCases.count

    public let count: Int
    public let imageSize: Int
    public let seed: UInt64
    public let classNames: [String]
    private let labels: [Int]

    /// `count` samples of `imageSize` px images; throws when either is not positive.
    public init(count: Int, imageSize: Int, seed: UInt64) throws {
        guard count > 0 else { throw SyntheticShapesError("count \(count) must be positive") }
        guard imageSize > 0 else { throw SyntheticShapesError("image size \(imageSize) must be positive") }
        self.count = count
        self.imageSize = imageSize
        self.seed = seed
        classNames = (0..<Self.classCount).map { Self.colour(ofClass: $0).name + " " + Self.shape(ofClass: $0).name }
        var labels = (0..<count).map { $0 % Self.classCount }
        var generator = SeededStream.generator(seed: seed, stream: UInt64.max)
        SeededStream.shuffle(&labels, using: &generator)
        self.labels = labels
    }

    public static func shape(ofClass c: Int) -> SyntheticShape {
        SyntheticShape(rawValue: c % SyntheticShape.allCases.count)!
    }

    public static func colour(ofClass c: Int) -> SyntheticColour {
        SyntheticColour(rawValue: c / SyntheticShape.allCases.count)!
    }

    public func label(at index: Int) -> Int {
        precondition((0..<count).contains(index), "SyntheticShapes: index \(index) outside 0..<\(count)")
        return labels[index]
    }

    /// None: the synthetic set has no domains.
    public var domainNames: [String] { [] }
    public func domain(at index: Int) -> Int? { nil }

    /// The drawn parameters of sample `index`.
    public func sample(at index: Int) -> SyntheticSample {
        var generator = SeededStream.generator(seed: seed, stream: UInt64(index))
        return draw(at: index, using: &generator)
    }

    /// Draws the sample's parameters from `generator`, which then goes on to the background noise.
    func draw(at index: Int, using generator: inout SplitMix64) -> SyntheticSample {
        let c = label(at: index)
        let placement = SyntheticPlacement(rawValue: SeededStream.uniform(9, using: &generator))!
        let isLarge = generator.next() & 1 == 1
        let cell = placement.centre
        let centreX = cell.x + 0.06 * generator.nextUnitFloat() - 0.03
        let centreY = cell.y + 0.06 * generator.nextUnitFloat() - 0.03
        let radius = (isLarge ? 0.21 : 0.13) * (0.95 + 0.1 * generator.nextUnitFloat())
        let brightness = 0.85 + 0.15 * generator.nextUnitFloat()
        let backgroundLevel = 0.05 + 0.12 * generator.nextUnitFloat()
        let template = SeededStream.uniform(Self.captionTemplateCount, using: &generator)
        return SyntheticSample(shape: Self.shape(ofClass: c), colour: Self.colour(ofClass: c), placement: placement,
                               isLarge: isLarge, centreX: centreX, centreY: centreY, radius: radius,
                               brightness: brightness, backgroundLevel: backgroundLevel, template: template)
    }
}
