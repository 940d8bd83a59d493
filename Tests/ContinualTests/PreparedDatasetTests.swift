import Foundation
import XCTest
@testable import Continual

/// Prepare -> open -> read back, on the synthetic set (no files needed): what goes in comes out, every kind of
/// damage to a prepared directory is refused naming the file, and an interrupted preparation finishes on rerun.
final class PreparedDatasetTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    /// 100 training samples (25 test) at 12 px in shards of 16: 7 train shards (the last of 4) and 2 test shards.
    private let synthetic = PreparationSettings(dataset: .synthetic, source: "", imageSize: 12, shardSize: 16,
                                                seed: 5, samples: 100)

    private func shardURL(_ directory: URL, _ split: PreparedSplit, _ shard: Int, _ kind: ShardKind) -> URL {
        directory.appendingPathComponent(PreparedFormat.fileName(split: split, shard: shard, kind: kind))
    }

    func testWhatGoesInComesOut() throws {
        let (directory, tally) = try scratch.prepare(synthetic)
        XCTAssertEqual(tally, .init(written: 9, kept: 0), "7 train and 2 test shards written")
        let source = try SyntheticSource(samples: 100, imageSize: 12, seed: 5)
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            XCTAssertEqual(dataset.count, split == .train ? 100 : 25, "\(split) count")
            XCTAssertEqual(dataset.imageSize, 12, "image size")
            XCTAssertEqual(dataset.classNames, source.classNames, "class names")
            XCTAssertEqual(dataset.captionCount, 3 * dataset.count, "three wordings per synthetic sample")
            var expected = [UInt8](repeating: 0, count: 3 * 12 * 12)
            for i in 0..<dataset.count {
                let sample = try expected.withUnsafeMutableBufferPointer { try source.read(i, of: split, into: $0.baseAddress!) }
                XCTAssertEqual(dataset.bytes(i), expected, "\(split) sample \(i) pixels")
                XCTAssertEqual(dataset.label(at: i), sample.label, "\(split) sample \(i) label")
                XCTAssertEqual(dataset.captions(at: i), sample.captions, "\(split) sample \(i) captions")
                XCTAssertEqual(dataset.caption(at: i), sample.captions[0], "\(split) sample \(i) caption")
            }
            var floats = [Float](repeating: .nan, count: 3 * 12 * 12)
            floats.withUnsafeMutableBufferPointer { dataset.writePixels(at: 7, into: $0.baseAddress!) }
            let bytes = dataset.bytes(7)
            for c in 0..<3 {
                let i = c * 144 + 50
                XCTAssertEqual(floats[i], (Float(bytes[i]) / 255 - CLIPPixels.mean[c]) / CLIPPixels.std[c], accuracy: 1e-6,
                               "\(split) sample 7 channel \(c): CLIP-normalised")
            }
        }
        let train = try PreparedDataset(directory: directory, split: .train)
        XCTAssertEqual(train.classOrder, try TaskSplit(classCount: 48, taskCount: 1, seed: 5).classOrder,
                       "the class order drawn from the seed as TaskSplit draws it")
        XCTAssertEqual(train.manifest.classOrderSeed, 5, "its seed recorded")
        XCTAssertNil(train.manifest.domainNames, "the synthetic set has no domains")
        XCTAssertNil(train.manifest.splits.train.domains, "nor do its samples")
        XCTAssertNil(train.domain(at: 0), "sample 0 has no domain")
        XCTAssertEqual(train.manifest.splits.train.shards.map(\.count), [16, 16, 16, 16, 16, 16, 4], "train shard counts")
        let source0 = try SyntheticSource(samples: 100, imageSize: 12, seed: 5)
        XCTAssertNotEqual((0..<25).map(source0.test.label(at:)), (0..<25).map(source0.train.label(at:)),
                          "the test split draws other samples than the train split")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("prepare.json").path),
                       "prepare.json removed once the manifest is written")
    }

    func testDamagedShardsAreRefusedNamingTheFile() throws {
        let (directory, _) = try scratch.prepare(synthetic)
        let images = shardURL(directory, .train, 2, .images)
        let original = try Data(contentsOf: images)
        func damage(_ url: URL, _ data: Data, _ phrases: [String], _ what: String, verify: Bool = true) throws {
            try data.write(to: url)
            assertThrows(naming: url.lastPathComponent, phrases, {
                _ = try PreparedDataset(directory: directory, split: .train, verifyChecksums: verify)
            }, what)
            try original.write(to: images)
        }

        // A flipped payload byte: only the checksum can tell.
        var flipped = original
        flipped[100] ^= 0x10
        try damage(images, flipped, ["checksum mismatch", "damaged"], "a flipped byte")
        try flipped.write(to: images)
        XCTAssertNoThrow(try PreparedDataset(directory: directory, split: .train, verifyChecksums: false),
                         "without checksum verification the flipped payload byte goes unseen")
        try original.write(to: images)

        try damage(images, original.prefix(original.count - 7), ["truncated"], "a truncated shard")
        var header = original
        header[16] = 15  // count 16 -> 15
        try damage(images, header, ["holds 15 samples, expected 16"], "a header count that differs", verify: false)
        try damage(images, try Data(contentsOf: shardURL(directory, .train, 3, .images)),
                   ["has checksum", "not the file it lists"], "another shard's file under this name", verify: false)
        try damage(images, try Data(contentsOf: shardURL(directory, .train, 2, .labels)),
                   ["bytes, manifest.json says"], "a labels file under the images name")

        let labels = shardURL(directory, .train, 0, .labels)
        let labelData = try Data(contentsOf: labels)
        try FileManager.default.removeItem(at: labels)
        assertThrows(naming: labels.lastPathComponent, ["missing", "the labels of train shard 0"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "a missing shard file")
        try labelData.write(to: labels)

        // The manifest disagrees with the shards.
        let manifestURL = directory.appendingPathComponent("manifest.json")
        let manifestData = try Data(contentsOf: manifestURL)
        var manifest = try JSONDecoder().decode(PreparedManifest.self, from: manifestData)
        manifest.imageSize = 16
        try PreparedFormat.json(manifest).write(to: manifestURL)
        assertThrows(naming: "train-00000.images", ["has shape [3, 12, 12] in its header, expected [3, 16, 16]"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "a manifest with another image size")
        manifest.imageSize = 12
        manifest.splits.train.count = 101
        try PreparedFormat.json(manifest).write(to: manifestURL)
        assertThrows(naming: "manifest.json", ["train has count 101 but its shards hold 100"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "a manifest count that its shards do not add up to")
        manifest.splits.train.count = 100
        manifest.splits.train.shards[1].labels.crc32 = "00000000"
        try PreparedFormat.json(manifest).write(to: manifestURL)
        assertThrows(naming: "train-00001.labels", ["manifest.json says 00000000"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "a manifest checksum that the shard does not have")
        manifest.splits.train.shards[1].labels.crc32 = "zz"
        manifest.version = PreparedFormat.version + 1
        try PreparedFormat.json(manifest).write(to: manifestURL)
        assertThrows(naming: "manifest.json", ["format version \(PreparedFormat.version + 1)"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "another format version")
        try Data("{\"format\": \"promptcl-prepared\", \"version\": 1}".utf8).write(to: manifestURL)
        assertThrows(naming: "manifest.json", ["missing key"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "a manifest without its fields")
        try FileManager.default.removeItem(at: manifestURL)
        assertThrows(naming: "manifest.json", ["not found", "did not finish"], {
            _ = try PreparedDataset(directory: directory, split: .train)
        }, "no manifest")
        try manifestData.write(to: manifestURL)
        XCTAssertNoThrow(try PreparedDataset(directory: directory, split: .train), "restored, it opens again")
    }

    func testAnInterruptedPreparationFinishesOnRerun() throws {
        let (directory, _) = try scratch.prepare(synthetic)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        var before: [String: Data] = [:]
        for file in files { before[file] = try Data(contentsOf: directory.appendingPathComponent(file)) }

        // Interrupted: no manifest yet, one shard never renamed, one shard file half written.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("manifest.json"))
        try PreparedFormat.json(synthetic).write(to: directory.appendingPathComponent("prepare.json"))
        let moved = shardURL(directory, .train, 4, .captions)
        try FileManager.default.moveItem(at: moved, to: URL(fileURLWithPath: moved.path + ".partial"))
        let cut = shardURL(directory, .test, 1, .images)
        try before[cut.lastPathComponent]!.prefix(100).write(to: cut)
        // And a flipped byte in a finished shard: a rerun rewrites that one too.
        var flipped = before["train-00006.images"]!
        flipped[70] ^= 1
        try flipped.write(to: shardURL(directory, .train, 6, .images))

        let (_, tally) = try scratch.prepare(synthetic)
        XCTAssertEqual(tally, .init(written: 3, kept: 6), "the 3 incomplete or damaged shards rewritten, 6 kept")
        let after = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertEqual(after, files, "the same files, no partial ones left")
        for file in files {
            XCTAssertEqual(try Data(contentsOf: directory.appendingPathComponent(file)), before[file],
                           "\(file): the same bytes as the uninterrupted preparation")
        }

        let (_, again) = try scratch.prepare(synthetic)
        XCTAssertEqual(again, .init(written: 0, kept: 9), "a rerun of a finished preparation keeps every shard")
    }

    func testADirectoryHoldingSomethingElseIsRefused() throws {
        try scratch.prepare(synthetic)
        var other = synthetic
        other.seed = 6
        assertThrows(naming: "manifest.json", ["records another preparation", "seed 5", "seed 6"], {
            try self.scratch.prepare(other)
        }, "a rerun with another seed")
        let busy = scratch.root.appendingPathComponent("busy")
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: busy.appendingPathComponent("notes.txt"))
        assertThrows(naming: busy.path, ["is not empty and holds no preparation", "notes.txt"], {
            try self.scratch.prepare(self.synthetic, out: "busy")
        }, "a directory with other files")
    }
}
