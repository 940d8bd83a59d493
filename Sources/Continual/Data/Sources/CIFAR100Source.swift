import Foundation

/// CIFAR-100 from its binary distribution (cifar-100-binary.tar.gz, the directory `cifar-100-binary` or the
/// directory holding it):
/// ```
/// train.bin, test.bin    records of 3074 bytes: coarse label, fine label, then 3072 bytes of pixels,
///                        32 x 32 red plane, green plane, blue plane (rows top to bottom)
/// fine_label_names.txt   the 100 fine class names, one a line ("aquarium_fish", ...)
/// ```
/// 100 fine classes (names with spaces for underscores), 50000 train and 10000 test images, resized to the
/// image size as CLIP's preprocessing does; captions "a photo of a {class}.".
public struct CIFAR100Source: SourceDataset {
    public static let recordBytes = 3074
    public static let side = 32

    public let imageSize: Int
    public let classNames: [String]
    private let train: MappedFile
    private let test: MappedFile

    /// Reads the class names and checks every record's labels in `directory` (or `directory/cifar-100-binary`).
    public init(directory: URL, imageSize: Int) throws {
        var root = directory
        let nested = directory.appendingPathComponent("cifar-100-binary")
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("train.bin").path),
           FileManager.default.fileExists(atPath: nested.appendingPathComponent("train.bin").path) {
            root = nested
        }
        self.imageSize = imageSize
        let namesPath = root.appendingPathComponent("fine_label_names.txt").path
        guard let text = FileManager.default.contents(atPath: namesPath) else {
            throw PreparedDataError(namesPath, "missing or unreadable")
        }
        classNames = String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: " ") }
            .filter { !$0.isEmpty }
        guard classNames.count == 100 else {
            throw PreparedDataError(namesPath, "names \(classNames.count) classes, CIFAR-100 has 100")
        }
        train = try Self.records(root.appendingPathComponent("train.bin").path, classes: classNames.count)
        test = try Self.records(root.appendingPathComponent("test.bin").path, classes: classNames.count)
    }

    /// Maps a record file and checks its size and every record's labels.
    private static func records(_ path: String, classes: Int) throws -> MappedFile {
        guard FileManager.default.fileExists(atPath: path) else { throw PreparedDataError(path, "missing") }
        let file = try MappedFile(path: path)
        let (whole, rest) = file.bytes.count.quotientAndRemainder(dividingBy: recordBytes)
        guard rest == 0 else {
            throw PreparedDataError(path, "record \(whole) is cut short: \(rest) of its \(recordBytes) bytes "
                                    + "(the file has \(file.bytes.count) bytes)")
        }
        guard whole > 0 else { throw PreparedDataError(path, "holds no records") }
        for record in 0..<whole {
            let coarse = file.bytes[record * recordBytes], fine = file.bytes[record * recordBytes + 1]
            guard coarse < 20, Int(fine) < classes else {
                throw PreparedDataError(path, "record \(record) has coarse label \(coarse) and fine label \(fine), "
                                        + "outside CIFAR-100's 20 and \(classes)")
            }
        }
        return file
    }

    public var fixedClassOrder: [Int]? { nil }
    public var notes: [String] {
        ["cifar100: train.bin (\(count(of: .train))) and test.bin (\(count(of: .test))) as the train and test splits, "
         + "fine labels; one caption per image, \"a photo of a {class}.\""]
    }

    public func count(of split: PreparedSplit) -> Int { records(split).bytes.count / Self.recordBytes }

    public func read(_ index: Int, of split: PreparedSplit, into pixels: UnsafeMutablePointer<UInt8>) throws -> SourceSample {
        let record = records(split).bytes[(index * Self.recordBytes)...]
        let plane = Self.side * Self.side, base = record.startIndex + 2
        var interleaved = [UInt8](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { interleaved[3 * i + c] = record[base + c * plane + i] }
        }
        let image = RGBImage(width: Self.side, height: Self.side, pixels: interleaved)
        writeResized(image, into: pixels)
        return SourceSample(label: Int(record[record.startIndex + 1]), classNames: classNames)
    }

    private func records(_ split: PreparedSplit) -> MappedFile { split == .train ? train : test }
}
