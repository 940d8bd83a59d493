import Foundation

/// Turns a source dataset into a prepared directory (`PreparedFormat`), resumably and split over ranks:
/// ```
/// rank 0:      begin()            refuse a directory holding something else; record prepare.json
/// every rank:  writeShards(r, P)  shards r, r + P, r + 2P, ... of [train shards..., test shards...]:
///                                 keep one whose three files verify, else write it (NAME.partial, renamed)
/// rank 0:      finish()           after every rank is done: manifest.json from the shard headers, written
///                                 last (NAME.partial, renamed); prepare.json and stray partial files removed
/// ```
/// A shard's bytes depend only on the settings and its samples, so any number of ranks writes the same files,
/// and a rerun after an interruption (or after damage to a shard) rewrites only what does not verify.
public final class DatasetPreparer {
    public let settings: PreparationSettings
    public let directory: URL
    public let source: any SourceDataset
    /// The classes in task order: the source's fixed order, or `TaskSplit`'s draw from the seed.
    public let classOrder: [Int]
    /// Every shard to write, the train split's first.
    public let jobs: [ShardJob]

    /// Shard `index` of `split`: samples `first ..< first + count`.
    public struct ShardJob: Equatable, Sendable {
        public let split: PreparedSplit
        public let index: Int
        public let first: Int
        public let count: Int

        /// "train shard 3".
        public var name: String { "\(split.rawValue) shard \(index)" }
    }

    /// What `writeShards` did.
    public struct Tally: Equatable, Sendable {
        public var written = 0
        public var kept = 0
    }

    /// Opens the source (its index files are parsed now, so a bad source fails here) and plans the shards.
    public init(settings: PreparationSettings, directory: URL) throws {
        guard settings.imageSize > 0 else { throw PreparedDataError(directory.path, "image size \(settings.imageSize) must be positive") }
        guard settings.shardSize > 0 else { throw PreparedDataError(directory.path, "shard size \(settings.shardSize) must be positive") }
        self.settings = settings
        self.directory = directory
        let source = try settings.openSource()
        self.source = source
        if let fixed = source.fixedClassOrder {
            classOrder = fixed
        } else {
            classOrder = try TaskSplit(classCount: source.classNames.count, taskCount: 1, seed: settings.seed).classOrder
        }
        jobs = PreparedSplit.allCases.flatMap { split -> [ShardJob] in
            let count = source.count(of: split), size = settings.shardSize
            return stride(from: 0, to: count, by: size).enumerated().map { index, first in
                ShardJob(split: split, index: index, first: first, count: min(size, count - first))
            }
        }
    }

    private var manifestURL: URL { directory.appendingPathComponent(PreparedFormat.manifestName) }
    private var settingsURL: URL { directory.appendingPathComponent(PreparedFormat.settingsName) }

    /// Rank 0, before any rank writes: creates the directory, or checks that it holds a preparation (finished
    /// or not) with the same settings, and records the settings in prepare.json. A finished preparation's
    /// manifest is removed until `finish` writes it again. Throws when the directory holds anything else.
    public func begin() throws {
        let files = FileManager.default
        try createDirectory()
        let existing: (file: URL, settings: PreparationSettings)?
        if files.fileExists(atPath: manifestURL.path) {
            existing = (manifestURL, try PreparedManifest.load(directory: directory).settings)
        } else if files.fileExists(atPath: settingsURL.path) {
            do {
                existing = (settingsURL, try JSONDecoder().decode(PreparationSettings.self,
                                                                  from: Data(contentsOf: settingsURL)))
            } catch {
                throw PreparedDataError(settingsURL.path, "cannot be read (\(PreparedManifest.describe(error))): "
                                        + "remove the directory and prepare again")
            }
        } else {
            existing = nil
            let entries = try files.contentsOfDirectory(atPath: directory.path)
            guard entries.isEmpty else {
                throw PreparedDataError(directory.path, "is not empty and holds no preparation (\(entries.count) "
                                        + "entries, e.g. \(entries.sorted()[0])): give a new or empty --out directory")
            }
        }
        if let existing, existing.settings != settings {
            throw PreparedDataError(existing.file.path, "records another preparation (\(existing.settings.summary)); "
                                    + "asked for \(settings.summary): give another --out directory")
        }
        try Self.writeAtomically(try PreparedFormat.json(settings), to: settingsURL)
        if files.fileExists(atPath: manifestURL.path) { try files.removeItem(at: manifestURL) }
    }

    /// Writes the shards `rank, rank + ranks, ...` of `jobs`, keeping each whose files already verify
    /// (`report` hears one line per shard). Call on every rank after `begin`.
    public func writeShards(rank: Int, ranks: Int, report: (String) -> Void = { _ in }) throws -> Tally {
        precondition(ranks > 0 && (0..<ranks).contains(rank), "rank \(rank) outside 0..<\(ranks)")
        var tally = Tally()
        for job in stride(from: rank, to: jobs.count, by: ranks).map({ jobs[$0] }) {
            let started = Date()
            if isComplete(job) {
                tally.kept += 1
                report("\(job.name): samples \(job.first)..<\(job.first + job.count) already written, verified, kept")
                continue
            }
            try write(job)
            tally.written += 1
            report("\(job.name): samples \(job.first)..<\(job.first + job.count) written in "
                   + String(format: "%.1f s", Date().timeIntervalSince(started)))
        }
        return tally
    }

    /// Rank 0, after every rank's `writeShards`: reads the shard headers, writes manifest.json (last) with them and
    /// the source's domains, removes prepare.json and any partial file left by an interrupted run. Returns the
    /// manifest.
    @discardableResult
    public func finish() throws -> PreparedManifest {
        var splits = PreparedManifest.Splits(train: .init(count: 0, captions: 0, shards: []),
                                             test: .init(count: 0, captions: 0, shards: []))
        for job in jobs {
            var files: [ShardKind: PreparedManifest.FileRecord] = [:]
            var captions = 0
            for kind in ShardKind.allCases {
                let name = PreparedFormat.fileName(split: job.split, shard: job.index, kind: kind)
                let (file, header) = try ShardFile.open(path: directory.appendingPathComponent(name).path, kind: kind,
                                                        count: job.count, shape: expectedShape(kind),
                                                        classes: source.classNames.count, verify: false, listing: nil)
                files[kind] = .init(file: name, bytes: file.bytes.count, crc32: CRC32.hex(header.checksum))
                if kind == .captions { captions = header.shape[0] }
            }
            splits[job.split].count += job.count
            splits[job.split].captions += captions
            splits[job.split].shards.append(.init(first: job.first, count: job.count, images: files[.images]!,
                                                  labels: files[.labels]!, captions: files[.captions]!))
        }
        let hasDomains = !source.domainNames.isEmpty
        if hasDomains {
            for split in PreparedSplit.allCases {
                splits[split].domains = PreparedManifest.DomainRun.runs((0..<source.count(of: split)).map { i in
                    guard let domain = source.domain(i, of: split) else {
                        preconditionFailure("\(split.rawValue) sample \(i) has no domain in a source with domains")
                    }
                    return domain
                })
            }
        }
        let manifest = PreparedManifest(
            dataset: settings.dataset, source: settings.source, imageSize: settings.imageSize,
            shardSize: settings.shardSize, seed: settings.seed, samples: settings.samples,
            classNames: source.classNames, classOrder: classOrder,
            classOrderSeed: source.fixedClassOrder == nil ? settings.seed : nil,
            domainNames: hasDomains ? source.domainNames : nil, notes: source.notes, splits: splits)
        try Self.writeAtomically(try PreparedFormat.json(manifest), to: manifestURL)
        let files = FileManager.default
        try files.removeItem(at: settingsURL)
        for entry in try files.contentsOfDirectory(atPath: directory.path)
        where entry.hasSuffix(PreparedFormat.partialSuffix) {
            try files.removeItem(at: directory.appendingPathComponent(entry))
        }
        return manifest
    }

    /// The header shape of a shard file of `kind` (nil: captions, whose shape is its own).
    private func expectedShape(_ kind: ShardKind) -> [Int]? {
        switch kind {
        case .images: return [3, settings.imageSize, settings.imageSize]
        case .labels: return [0, 0, 0]
        case .captions: return nil
        }
    }

    /// Whether all three files of `job` are there, fit it, and verify.
    private func isComplete(_ job: ShardJob) -> Bool {
        ShardKind.allCases.allSatisfy { kind in
            let path = directory.appendingPathComponent(PreparedFormat.fileName(split: job.split, shard: job.index,
                                                                               kind: kind)).path
            return (try? ShardFile.open(path: path, kind: kind, count: job.count, shape: expectedShape(kind),
                                        classes: source.classNames.count, verify: true, listing: nil)) != nil
        }
    }

    private func createDirectory() throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw PreparedDataError(directory.path, "cannot be created: \(error.localizedDescription)")
        }
    }

    /// Writes `data` to `url` + ".partial", then renames it over `url` (rename(2): atomic).
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let partial = url.path + PreparedFormat.partialSuffix
        do {
            try data.write(to: URL(fileURLWithPath: partial))
        } catch {
            throw PreparedDataError(partial, "cannot be written: \(error.localizedDescription)")
        }
        guard rename(partial, url.path) == 0 else {
            throw PreparedDataError(partial, "cannot be renamed to \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}
