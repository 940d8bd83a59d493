import Foundation

/// `manifest.json` of a prepared dataset: what was prepared, from where, and every shard file with its count,
/// byte size and checksum. Written last by `promptcl prepare` (its presence means the preparation finished);
/// `PreparedDataset` checks every shard against it. Layout and example in `PreparedFormat`.
public struct PreparedManifest: Codable, Equatable, Sendable {
    /// "promptcl-prepared".
    public var format = PreparedFormat.name
    public var version = PreparedFormat.version
    public var dataset: DataSection.Dataset
    /// The source directory as given to `promptcl prepare` (absolute).
    public var source: String
    /// Side S of the square images (3, S, S), the model's input size.
    public var imageSize: Int
    /// Samples per shard (the last shard of a split may hold fewer).
    public var shardSize: Int
    /// The preparation's seed: the class order, and what else the dataset draws (`notes` says what).
    public var seed: UInt64
    /// Training samples asked for (the synthetic set only; the others have the source's counts).
    public var samples: Int?
    /// Class c's name, for "a photo of a {class}." and zero-shot classifiers.
    public var classNames: [String]
    /// The classes in the order the tasks see them (`TaskSplit(classOrder:taskCount:)`).
    public var classOrder: [Int]
    /// The seed `classOrder` was drawn from; nil when the order is fixed (COCO: LPI's supercategory order).
    public var classOrderSeed: UInt64?
    /// The dataset's domains in order (DomainNet: clipart, infograph, painting, quickdraw, real, sketch); nil
    /// when it has none, and in a version 1 manifest (written before domains were recorded). Each split's
    /// `domains` then gives every sample's domain.
    public var domainNames: [String]?
    /// How the reader made the splits, labels and captions from the source, in words.
    public var notes: [String]
    public var splits: Splits

    public struct Splits: Codable, Equatable, Sendable {
        public var train: SplitRecord
        public var test: SplitRecord

        public subscript(split: PreparedSplit) -> SplitRecord {
            get { split == .train ? train : test }
            set { if split == .train { train = newValue } else { test = newValue } }
        }
    }

    /// One split: its samples in shard order.
    public struct SplitRecord: Codable, Equatable, Sendable {
        /// Samples in the split.
        public var count: Int
        /// Captions in the split (count when every sample has one).
        public var captions: Int
        public var shards: [ShardRecord]
        /// Every sample's domain, run-length encoded in sample order; nil when the dataset has no domains.
        public var domains: [DomainRun]?

        public init(count: Int, captions: Int, shards: [ShardRecord], domains: [DomainRun]? = nil) {
            self.count = count
            self.captions = captions
            self.shards = shards
            self.domains = domains
        }
    }

    /// `count` consecutive samples of domain `domain` (an index into `domainNames`).
    ///
    /// Each sample's domain is recorded, not one range per domain: that holds whatever order a reader lists the
    /// samples in, and run-length encoding keeps it short when the order is domain after domain, as DomainNet's
    /// file lists are read (one run per domain: 6 per split). It lives in the manifest, so the shard files are
    /// those of version 1, and `promptcl prepare` run again over a version 1 directory keeps every shard and
    /// writes a manifest with the domains.
    public struct DomainRun: Codable, Equatable, Sendable {
        public var domain: Int
        public var count: Int

        public init(domain: Int, count: Int) {
            self.domain = domain
            self.count = count
        }

        /// The runs of `domains` (one domain per sample, in order).
        public static func runs(_ domains: [Int]) -> [DomainRun] {
            var runs: [DomainRun] = []
            for domain in domains {
                if runs.last?.domain == domain {
                    runs[runs.count - 1].count += 1
                } else {
                    runs.append(.init(domain: domain, count: 1))
                }
            }
            return runs
        }
    }

    /// One shard: samples `first ..< first + count` of its split, in three files.
    public struct ShardRecord: Codable, Equatable, Sendable {
        public var first: Int
        public var count: Int
        public var images: FileRecord
        public var labels: FileRecord
        public var captions: FileRecord

        public subscript(kind: ShardKind) -> FileRecord {
            switch kind {
            case .images: return images
            case .labels: return labels
            case .captions: return captions
            }
        }
    }

    /// One shard file: its name in the prepared directory, its size, and the CRC-32 of its payload.
    public struct FileRecord: Codable, Equatable, Sendable {
        public var file: String
        public var bytes: Int
        /// CRC-32 of the bytes after the 64-byte header, 8 hex digits (also in the header).
        public var crc32: String
    }

    enum CodingKeys: String, CodingKey {
        case format, version, dataset, source, seed, samples, notes, splits
        case imageSize = "image_size", shardSize = "shard_size", classNames = "class_names"
        case classOrder = "class_order", classOrderSeed = "class_order_seed", domainNames = "domain_names"
    }

    public init(dataset: DataSection.Dataset, source: String, imageSize: Int, shardSize: Int, seed: UInt64,
                samples: Int?, classNames: [String], classOrder: [Int], classOrderSeed: UInt64?,
                domainNames: [String]?, notes: [String], splits: Splits) {
        self.dataset = dataset
        self.source = source
        self.imageSize = imageSize
        self.shardSize = shardSize
        self.seed = seed
        self.samples = samples
        self.classNames = classNames
        self.classOrder = classOrder
        self.classOrderSeed = classOrderSeed
        self.domainNames = domainNames
        self.notes = notes
        self.splits = splits
    }

    /// The settings the preparation was made with.
    public var settings: PreparationSettings {
        PreparationSettings(dataset: dataset, source: source, imageSize: imageSize, shardSize: shardSize, seed: seed,
                            samples: samples)
    }

    /// Reads and checks `directory/manifest.json`: format and version (`PreparedFormat.readableVersions`), a class
    /// order that is a permutation of the classes, each split's shards contiguous from sample 0 with shard_size
    /// samples each (the last one fewer), file names inside the directory, and with domains, distinct names and
    /// each split's runs covering its samples. Throws `PreparedDataError` naming the manifest.
    public static func load(directory: URL) throws -> PreparedManifest {
        let url = directory.appendingPathComponent(PreparedFormat.manifestName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PreparedDataError(url.path, "not found: \(directory.path) is not a prepared dataset, or its "
                                    + "`promptcl prepare` did not finish (run it again to complete it)")
        }
        let manifest: PreparedManifest
        do {
            let data = try Data(contentsOf: url)
            if let header = try? JSONDecoder().decode(FormatHeader.self, from: data) {
                guard header.format == PreparedFormat.name else {
                    throw PreparedDataError(url.path, "has format \"\(header.format)\", not \"\(PreparedFormat.name)\"")
                }
                guard PreparedFormat.readableVersions.contains(header.version) else {
                    throw PreparedDataError(url.path, "has format version \(header.version); this promptcl reads "
                                            + "versions \(PreparedFormat.readableVersions.lowerBound) to "
                                            + "\(PreparedFormat.version): prepare the dataset again")
                }
            }
            manifest = try JSONDecoder().decode(PreparedManifest.self, from: data)
        } catch let error as PreparedDataError {
            throw error
        } catch {
            throw PreparedDataError(url.path, "cannot be read as a prepared-dataset manifest: \(Self.describe(error))")
        }
        try manifest.check(file: url.path)
        return manifest
    }

    private func check(file: String) throws {
        func fail(_ problem: String) -> PreparedDataError { PreparedDataError(file, problem) }
        guard imageSize > 0, shardSize > 0 else {
            throw fail("image_size \(imageSize) and shard_size \(shardSize) must be positive")
        }
        guard !classNames.isEmpty, classOrder.sorted() == Array(0..<classNames.count) else {
            throw fail("class_order is not a permutation of the \(classNames.count) classes")
        }
        for split in PreparedSplit.allCases {
            let record = splits[split]
            var next = 0
            for (s, shard) in record.shards.enumerated() {
                let isLast = s == record.shards.count - 1
                guard shard.first == next, shard.count > 0,
                      shard.count == shardSize || (isLast && shard.count < shardSize) else {
                    throw fail("\(split.rawValue) shard \(s) holds samples \(shard.first) ..< \(shard.first + shard.count); "
                               + "expected shard_size \(shardSize) samples from \(next) (fewer only in the last shard)")
                }
                for kind in ShardKind.allCases where !PreparedFormat.isPlainName(shard[kind].file) {
                    throw fail("shard file name \"\(shard[kind].file)\" is not a plain file name in the directory")
                }
                next += shard.count
            }
            guard next == record.count else {
                throw fail("\(split.rawValue) has count \(record.count) but its shards hold \(next) samples")
            }
            try checkDomains(of: split, fail: fail)
        }
    }

    /// Domain names that are there and distinct, and runs of known domains that add up to the split's count;
    /// neither runs without names nor names without runs.
    private func checkDomains(of split: PreparedSplit, fail: (String) -> PreparedDataError) throws {
        let record = splits[split]
        guard let domainNames else {
            guard record.domains == nil else {
                throw fail("\(split.rawValue) has domains but the manifest has no domain_names")
            }
            return
        }
        guard !domainNames.isEmpty, Set(domainNames).count == domainNames.count else {
            throw fail("domain_names \(domainNames) must be distinct names, at least one")
        }
        guard let runs = record.domains else {
            throw fail("\(split.rawValue) has no domains, but the manifest names domains \(domainNames)")
        }
        for (r, run) in runs.enumerated() where !domainNames.indices.contains(run.domain) || run.count <= 0 {
            throw fail("\(split.rawValue) domain run \(r) (domain \(run.domain), \(run.count) samples) needs a domain in "
                       + "0..<\(domainNames.count) and a positive count")
        }
        let covered = runs.reduce(0) { $0 + $1.count }
        guard covered == record.count else {
            throw fail("\(split.rawValue) has count \(record.count) but its domain runs cover \(covered) samples")
        }
    }

    /// Only the format fields, read first so that another format or version gets its own message.
    private struct FormatHeader: Decodable {
        var format: String
        var version: Int
    }

    /// A decoding error's key path and problem ("splits.train.count: ..."), not Foundation's full dump.
    static func describe(_ error: Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            return "missing key \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?, .dataCorrupted(let context)?:
            return "\(path(context.codingPath)): \(context.debugDescription)"
        default:
            return error.localizedDescription
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "(top level)" : keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
