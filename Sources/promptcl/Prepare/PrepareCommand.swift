import ArgumentParser
import Continual
import Distributed
import Foundation

/// `promptcl prepare --dataset NAME --source PATH --out DIR [--image-size S] [--seed N] [--shard-size N]`:
/// turns a raw dataset into the prepared shards every rank memory-maps (`PreparedFormat`, `DatasetPreparer`).
///
/// Under mpirun the shards are split over the ranks (rank r writes shards r, r + P, ...; rank 0 writes the
/// manifest once all are done), with the same bytes as one process. Resumable: a rerun with the same
/// arguments keeps every shard that verifies and writes the rest. Exit status: 0 prepared; 2 nothing written
/// (bad arguments, source or output directory; the lowest failing rank says why); 1 a shard or the manifest
/// could not be written (each failing rank says why; rerun to finish).
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Turn a raw dataset into memory-mapped shards (split over the ranks under mpirun).",
        discussion: """
        Datasets and their --source: fashion-mnist (the IDX files, gzipped or not: train-images-idx3-ubyte.gz, \
        ..., t10k-labels-idx1-ubyte.gz; Debian's dataset-fashion-mnist installs them in \
        /usr/share/datasets/fashion-mnist), cifar100 (the binary distribution: train.bin, test.bin, \
        fine_label_names.txt), imagenet-r (class folders ROOT/CLASS/*.jpg, split 80/20 per class from the seed), \
        domainnet (DOMAIN_train.txt and DOMAIN_test.txt lists of "path label" lines beside the image folders), \
        coco (annotations/captions_*.json and instances_*.json, train and val image folders), synthetic (no \
        source; --samples training images). DIR receives manifest.json and train-NNNNN / test-NNNNN shard files \
        (.images uint8 (N, 3, S, S), .labels, .captions). The class order is drawn from --seed (COCO: LPI's fixed \
        supercategory order) and recorded in the manifest. A rerun with the same arguments keeps the shards that \
        verify and finishes the rest. Example: promptcl prepare --dataset fashion-mnist --source \
        /usr/share/datasets/fashion-mnist --out data/fmnist-32 --image-size 32
        """)

    @Option(help: ArgumentHelp("The dataset: \(DataSection.Dataset.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "name"))
    var dataset: String

    @Option(help: "The raw dataset's directory (not for synthetic).")
    var source: String?

    @Option(help: "Output directory (created; a rerun into it must give the same arguments).")
    var out: String

    @Option(help: "Side of the square images in pixels: the model's input size.")
    var imageSize = 224

    @Option(help: "Seed of the class order (and of what else the dataset draws: ImageNet-R's split, the synthetic images).")
    var seed: UInt64 = 0

    @Option(help: "Samples per shard.")
    var shardSize = 4096

    @Option(help: "Training samples of the synthetic set (its test split has a quarter as many).")
    var samples: Int?

    func validate() throws {
        guard let dataset = DataSection.Dataset(rawValue: dataset) else {
            throw ValidationError("--dataset \"\(self.dataset)\" is not one of "
                                  + DataSection.Dataset.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard imageSize > 0 else { throw ValidationError("--image-size must be positive, not \(imageSize)") }
        guard shardSize > 0 else { throw ValidationError("--shard-size must be positive, not \(shardSize)") }
        if dataset == .synthetic {
            guard source == nil else { throw ValidationError("--source: the synthetic set has none") }
            guard (samples ?? 1) > 0 else { throw ValidationError("--samples must be positive, not \(samples!)") }
        } else {
            guard source != nil else { throw ValidationError("--source is needed for \(dataset.rawValue)") }
            guard samples == nil else { throw ValidationError("--samples is for the synthetic set only") }
        }
    }

    func run() throws {
        let group = ProcessGroup.world
        let started = Date()
        let name = DataSection.Dataset(rawValue: dataset)!
        let settings = PreparationSettings(
            dataset: name, source: source.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? "",
            imageSize: imageSize, shardSize: shardSize, seed: seed,
            samples: name == .synthetic ? samples ?? DataSection().samples : nil)
        let directory = URL(fileURLWithPath: out).standardizedFileURL

        let preparer = Self.agree(group, status: 2, onlyLowest: true) { () throws -> DatasetPreparer in
            let preparer = try DatasetPreparer(settings: settings, directory: directory)
            if group.isRoot { try preparer.begin() }
            return preparer
        }
        group.log0("promptcl prepare: \(settings.summary) into \(directory.path): "
                   + PreparedSplit.allCases.map { split in
                       let shards = preparer.jobs.filter { $0.split == split }.count
                       return "\(split.rawValue) \(preparer.source.count(of: split)) samples in \(shards) shard(s)"
                   }.joined(separator: ", ") + ", \(preparer.source.classNames.count) classes, on \(group.size) rank(s)")
        let tally = Self.agree(group, status: 1, onlyLowest: false) {
            try preparer.writeShards(rank: group.rank, ranks: group.size) { line in
                print(group.size > 1 ? "[rank \(group.rank)/\(group.size)] \(line)" : line)
                fflush(stdout)
            }
        }
        var counts = [tally.written, tally.kept].map(Int64.init)
        group.allreduceSum(&counts)
        guard group.isRoot else { return }
        do {
            let manifest = try preparer.finish()
            let bytes = manifest.splits.train.shards + manifest.splits.test.shards
            let total = bytes.reduce(0) { $0 + $1.images.bytes + $1.labels.bytes + $1.captions.bytes }
            for note in manifest.notes { print("promptcl prepare: \(note)") }
            print("promptcl prepare: \(counts[0]) shard(s) written, \(counts[1]) kept; \(total) bytes "
                  + String(format: "(%.1f MB) in %.1f s; ", Double(total) / 1e6, Date().timeIntervalSince(started))
                  + "manifest \(directory.appendingPathComponent(PreparedFormat.manifestName).path)")
        } catch {
            fputs("promptcl prepare: \(error)\n", stderr)
            Foundation.exit(1)
        }
    }

    /// Runs `body` on every rank and agrees on its outcome (no collective inside `body`, so no rank waits on
    /// one that failed): if any rank failed, the lowest failing rank (`onlyLowest`) or every failing rank
    /// prints its error and every rank exits with `status`.
    static func agree<T>(_ group: ProcessGroup, status: Int32, onlyLowest: Bool, _ body: () throws -> T) -> T {
        let result = Result { try body() }
        let failed: Int32 = (try? result.get()) == nil ? Int32(group.rank) : Int32(group.size)
        let first = group.allreduce(failed, .min)
        if case .success(let value) = result, first == Int32(group.size) { return value }
        if case .failure(let error) = result, !onlyLowest || first == Int32(group.rank) {
            fputs("promptcl prepare: " + (group.size > 1 ? "[rank \(group.rank)/\(group.size)] " : "") + "\(error)\n",
                  stderr)
        }
        Foundation.exit(status)
    }
}
