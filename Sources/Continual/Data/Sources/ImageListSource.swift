import Foundation

/// A classification dataset of JPEG files, each with a label, in a train and a test list: what the class-folder
/// datasets become once listed (`classFolders`: ImageNet-R; `domainNet`: DomainNet's file lists). Images are
/// decoded with libjpeg-turbo (`JPEGDecoder`) and resized as CLIP's preprocessing does; captions
/// "a photo of a {class}.". DomainNet's entries carry their domain.
public struct ImageListSource: SourceDataset {
    /// One image: its file, class and domain.
    public struct Entry: Equatable, Sendable {
        public let file: URL
        public let label: Int
        /// Its index in `domainNames`; nil when the source has no domains (class folders).
        public let domain: Int?
    }

    public let imageSize: Int
    public let classNames: [String]
    /// DomainNet's domains, in the order of their file lists; empty for class folders.
    public let domainNames: [String]
    public let notes: [String]
    public let train: [Entry]
    public let test: [Entry]

    public var fixedClassOrder: [Int]? { nil }

    public func count(of split: PreparedSplit) -> Int { entries(split).count }

    public func domain(_ index: Int, of split: PreparedSplit) -> Int? { entries(split)[index].domain }

    public func read(_ index: Int, of split: PreparedSplit, into pixels: UnsafeMutablePointer<UInt8>) throws -> SourceSample {
        let entry = entries(split)[index]
        writeResized(try JPEGDecoder.decode(file: entry.file), into: pixels)
        return SourceSample(label: entry.label, classNames: classNames)
    }

    private func entries(_ split: PreparedSplit) -> [Entry] { split == .train ? train : test }

    /// Whether `name` is a JPEG file name (.jpg or .jpeg, any case).
    static func isJPEG(_ name: String) -> Bool {
        let lower = name.lowercased()
        return !name.hasPrefix(".") && (lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg"))
    }

    /// A class name as captions use it: underscores read as spaces.
    static func readable(_ name: String) -> String { name.replacingOccurrences(of: "_", with: " ") }
}
