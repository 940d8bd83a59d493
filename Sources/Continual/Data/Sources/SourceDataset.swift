/// A raw dataset as `promptcl prepare` reads it from its distribution's files: one reader per format
/// (`FashionMNISTSource`, `CIFAR100Source`, `SyntheticSource`, ...), opened for one image size.
///
/// Readers parse their index files when opened (so a bad file fails before anything is written) and read
/// one sample at a time by index, from any thread, so that shards can be written in parallel and by any rank.
public protocol SourceDataset: Sendable {
    /// Side S of the square images `read` writes.
    var imageSize: Int { get }
    var classNames: [String] { get }
    /// The class order every preparation of this dataset uses, or nil to draw one from the seed.
    var fixedClassOrder: [Int]? { get }
    /// How the reader made the splits, labels and captions, in words, for the manifest.
    var notes: [String] { get }
    /// The source's domains in order (DomainNet: its file lists' domains); empty when it has none.
    var domainNames: [String] { get }
    /// Samples in `split`.
    func count(of split: PreparedSplit) -> Int
    /// The domain of sample `index` of `split`, in `0..<domainNames.count`; nil when the source has no domains.
    func domain(_ index: Int, of split: PreparedSplit) -> Int?
    /// Sample `index` of `split`: writes its image as uint8 planes (3, S, S) (resized and centre-cropped as
    /// CLIPImageProcessor does, when the source has another size) to `pixels` and returns its label and
    /// captions. Throws `PreparedDataError` naming the file and record.
    func read(_ index: Int, of split: PreparedSplit, into pixels: UnsafeMutablePointer<UInt8>) throws -> SourceSample
}

/// What a `SourceDataset` gives for one sample besides its pixels.
public struct SourceSample: Equatable, Sendable {
    /// Class index in `0..<classNames.count`.
    public var label: Int
    /// One or more captions.
    public var captions: [String]

    public init(label: Int, captions: [String]) {
        self.label = label
        self.captions = captions
    }

    /// A classification dataset's sample: its one caption is "a photo of a {class}.".
    public init(label: Int, classNames: [String]) {
        self.init(label: label, captions: ["a photo of a \(classNames[label])."])
    }
}

extension SourceDataset {
    /// A source without domains (every one but DomainNet's file lists).
    public var domainNames: [String] { [] }
    public func domain(_ index: Int, of split: PreparedSplit) -> Int? { nil }

    /// `image` resized (shorter side) and centre-cropped to `imageSize` as CLIPImageProcessor does, written to
    /// `pixels` as uint8 planes (3, S, S).
    func writeResized(_ image: RGBImage, into pixels: UnsafeMutablePointer<UInt8>) {
        CLIPImagePreprocessing.resizeAndCrop(image, size: imageSize).withUnsafeBufferPointer {
            pixels.update(from: $0.baseAddress!, count: $0.count)
        }
    }
}
