import Foundation

/// Fashion-MNIST (Zalando) from its IDX files, as the Debian package `dataset-fashion-mnist` installs them
/// under /usr/share/datasets/fashion-mnist or the original download has them, gzipped or not:
/// ```
/// train-images-idx3-ubyte.gz   uint8 (60000, 28, 28)      train-labels-idx1-ubyte.gz   uint8 (60000)
/// t10k-images-idx3-ubyte.gz    uint8 (10000, 28, 28)      t10k-labels-idx1-ubyte.gz    uint8 (10000)
/// ```
/// 10 classes (names below, lower case). The gray images are repeated in the three channels and resized to
/// the image size as CLIP's preprocessing does (`CLIPImagePreprocessing`); captions "a photo of a {class}.".
public struct FashionMNISTSource: SourceDataset {
    public static let classNames = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                                    "sneaker", "bag", "ankle boot"]

    public let imageSize: Int
    private let train: Split
    private let test: Split

    private struct Split {
        let images: IDXFile
        let labels: ArraySlice<UInt8>
    }

    /// Reads and checks the four files in `directory` (each `NAME.gz`, or `NAME` when there is no `.gz`).
    public init(directory: URL, imageSize: Int) throws {
        self.imageSize = imageSize
        train = try Self.split("train", in: directory)
        test = try Self.split("t10k", in: directory)
    }

    private static func split(_ stem: String, in directory: URL) throws -> Split {
        let imagesPath = path("\(stem)-images-idx3-ubyte", in: directory)
        let labelsPath = path("\(stem)-labels-idx1-ubyte", in: directory)
        let images = try IDXFile(GzipFile.read(imagesPath), rank: 3, name: imagesPath)
        let labels = try IDXFile(GzipFile.read(labelsPath), rank: 1, name: labelsPath)
        guard images.dimensions[1] > 0, images.dimensions[2] > 0 else {
            throw PreparedDataError(imagesPath, "has images of \(images.dimensions[1]) x \(images.dimensions[2]) pixels")
        }
        guard labels.dimensions[0] == images.dimensions[0] else {
            throw PreparedDataError(labelsPath, "has \(labels.dimensions[0]) labels for the \(images.dimensions[0]) "
                                    + "images of \(imagesPath)")
        }
        for (i, label) in labels.data.enumerated() where Int(label) >= classNames.count {
            throw PreparedDataError(labelsPath, "label \(i) is \(label), outside the \(classNames.count) classes")
        }
        return Split(images: images, labels: labels.data)
    }

    private static func path(_ name: String, in directory: URL) -> String {
        let gzipped = directory.appendingPathComponent(name + ".gz").path
        return FileManager.default.fileExists(atPath: gzipped) ? gzipped : directory.appendingPathComponent(name).path
    }

    public var classNames: [String] { Self.classNames }
    public var fixedClassOrder: [Int]? { nil }
    public var notes: [String] {
        ["fashion-mnist: the IDX train (\(train.labels.count)) and t10k (\(test.labels.count)) files as the train and "
         + "test splits; gray repeated in 3 channels; one caption per image, \"a photo of a {class}.\""]
    }

    public func count(of split: PreparedSplit) -> Int { (split == .train ? train : test).labels.count }

    public func read(_ index: Int, of split: PreparedSplit, into pixels: UnsafeMutablePointer<UInt8>) throws -> SourceSample {
        let set = split == .train ? train : test
        let (height, width) = (set.images.dimensions[1], set.images.dimensions[2])
        let start = set.images.data.startIndex + index * height * width
        let image = RGBImage(width: width, height: height, gray: Array(set.images.data[start ..< start + height * width]))
        writeResized(image, into: pixels)
        let label = Int(set.labels[set.labels.startIndex + index])
        return SourceSample(label: label, classNames: Self.classNames)
    }
}
