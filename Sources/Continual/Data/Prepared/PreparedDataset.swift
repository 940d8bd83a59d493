import Foundation

/// One split of a prepared dataset (`PreparedFormat`), its shards memory-mapped: the `ImageTextDataset` that
/// training and evaluation read real datasets through.
///
/// ```
/// sample i  ->  shard i / shard_size, row i % shard_size
/// writePixels(i)[c, y, x] = (images[row, c, y, x] / 255 - CLIPPixels.mean[c]) / CLIPPixels.std[c]
/// label(i) = labels[row];   captions(i) = the row's captions;   caption(i) = its first
/// domain(i) = the domain of the manifest's run holding i       (runs: n_0 samples of d_0, then n_1 of d_1, ...)
/// ```
/// Opening checks the manifest against every shard file of the split: it exists, has the manifest's byte
/// size, a header of the right kind with the shard's count and shape and the manifest's checksum, a payload of
/// the announced size, labels within the classes, a well-formed caption index, and (unless `verifyChecksums`
/// is false) a payload whose CRC-32 matches. Every problem is a `PreparedDataError` naming the file.
public final class PreparedDataset: ImageTextDataset, @unchecked Sendable {
    public let directory: URL
    public let manifest: PreparedManifest
    public let split: PreparedSplit
    public let count: Int
    public let imageSize: Int
    public let classNames: [String]
    /// Captions in the split (`count` for the classification datasets, about 5 count for COCO).
    public let captionCount: Int
    /// The manifest's domains; empty when it records none.
    public let domainNames: [String]
    private let shards: [Shard]
    private let shardSize: Int
    /// The split's domain runs: run r holds samples `runEnds[r - 1] ..< runEnds[r]` of domain `runDomains[r]`.
    private let runEnds: [Int]
    private let runDomains: [Int]

    struct Shard {
        let images: MappedFile
        let labels: MappedFile
        let captions: ShardCaptions
        /// Keeps `captions`' bytes mapped.
        let captionFile: MappedFile
    }

    /// Opens `split` of the prepared dataset in `directory`, checking it as above.
    public init(directory: URL, split: PreparedSplit, verifyChecksums: Bool = true) throws {
        self.directory = directory
        self.split = split
        manifest = try PreparedManifest.load(directory: directory)
        let record = manifest.splits[split]
        count = record.count
        imageSize = manifest.imageSize
        classNames = manifest.classNames
        shardSize = manifest.shardSize
        domainNames = manifest.domainNames ?? []
        let runs = record.domains ?? []
        runDomains = runs.map(\.domain)
        runEnds = runs.reduce(into: []) { ends, run in ends.append((ends.last ?? 0) + run.count) }
        guard count > 0 else {
            throw PreparedDataError(directory.appendingPathComponent(PreparedFormat.manifestName).path,
                                    "the \(split.rawValue) split has no samples")
        }
        let (size, classes) = (imageSize, classNames.count)
        let opened = try record.shards.enumerated().map { s, shard -> Shard in
            func open(_ kind: ShardKind, shape: [Int]?) throws -> (file: MappedFile, header: ShardHeader) {
                let listed = shard[kind]
                return try ShardFile.open(
                    path: directory.appendingPathComponent(listed.file).path, kind: kind, count: shard.count,
                    shape: shape, classes: classes, verify: verifyChecksums,
                    listing: .init(bytes: listed.bytes, crc32: listed.crc32,
                                   role: "the \(kind.rawValue) of \(split.rawValue) shard \(s)"))
            }
            let captions = try open(.captions, shape: nil)
            return Shard(images: try open(.images, shape: [3, size, size]).file,
                         labels: try open(.labels, shape: [0, 0, 0]).file,
                         captions: ShardCaptions(file: captions.file.bytes, count: shard.count,
                                                 captions: captions.header.shape[0]),
                         captionFile: captions.file)
        }
        shards = opened
        captionCount = opened.reduce(0) { $0 + $1.captions.captions }
        guard captionCount == record.captions else {
            throw PreparedDataError(directory.appendingPathComponent(PreparedFormat.manifestName).path,
                                    "the \(split.rawValue) split has \(record.captions) captions, its caption shards "
                                    + "hold \(captionCount)")
        }
    }

    /// The class order the preparation recorded (`TaskSplit(classOrder:taskCount:)`).
    public var classOrder: [Int] { manifest.classOrder }

    private func locate(_ index: Int) -> (shard: Shard, row: Int) {
        precondition((0..<count).contains(index), "prepared \(split.rawValue) split: index \(index) outside 0..<\(count)")
        return (shards[index / shardSize], index % shardSize)
    }

    /// The stored image of sample `index`: uint8 (3, S, S).
    public func imageBytes(at index: Int) -> UnsafeRawBufferPointer {
        let (shard, row) = locate(index)
        let plane = 3 * imageSize * imageSize
        return UnsafeRawBufferPointer(rebasing: shard.images.bytes[(ShardHeader.size + row * plane)...].prefix(plane))
    }

    public func label(at index: Int) -> Int {
        let (shard, row) = locate(index)
        return Int(Int32(littleEndian: shard.labels.bytes.loadUnaligned(fromByteOffset: ShardHeader.size + 4 * row,
                                                                        as: Int32.self)))
    }

    /// Every caption of sample `index` (one for classification datasets, several for COCO), as stored.
    public func captions(at index: Int) -> [String] {
        let (shard, row) = locate(index)
        let captions = shard.captions
        return (captions.first(row) ..< captions.first(row + 1)).map { j in
            String(decoding: UnsafeRawBufferPointer(rebasing: captions.file[captions.text(j)]), as: UTF8.self)
        }
    }

    public func caption(at index: Int) -> String { captions(at: index)[0] }

    public func domain(at index: Int) -> Int? {
        precondition((0..<count).contains(index), "prepared \(split.rawValue) split: index \(index) outside 0..<\(count)")
        guard !runEnds.isEmpty else { return nil }
        var (low, high) = (0, runEnds.count - 1)  // the first run whose end is past index
        while low < high {
            let middle = (low + high) / 2
            if runEnds[middle] > index { high = middle } else { low = middle + 1 }
        }
        return runDomains[low]
    }

    public func writePixels(at index: Int, into destination: UnsafeMutablePointer<Float>) {
        CLIPPixels.normalise(imageBytes(at: index).bindMemory(to: UInt8.self), into: destination)
    }
}
