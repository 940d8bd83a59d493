import Foundation
import TestSupport
import XCTest

/// `promptcl prepare` as people run it (the built binary): split over 2 ranks by the real `launch/mpirun` it
/// writes the same bytes as one process, a rerun after an interruption finishes the job (also on another rank
/// count), and bad sources or arguments are refused before anything is written.
final class PrepareCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-prepare-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// CIFAR-100's fixture (10 train and 4 test records) at 16 px in shards of 3: 4 train and 2 test shards.
    private func prepare(_ out: URL, ranks: Int?, source: String = "cifar100", extra: [String] = [],
                         file: StaticString = #filePath, line: UInt = #line) throws -> TrainJob.Result {
        try TrainJob.promptcl(["prepare", "--dataset", "cifar100", "--source", fixtureURL("prepare/\(source)").path,
                               "--out", out.path, "--image-size", "16", "--shard-size", "3", "--seed", "4"] + extra,
                              ranks: ranks, logs: out, timeout: 120, file: file, line: line)
    }

    /// Every file of `directory` and its bytes.
    private func contents(_ directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = try Data(contentsOf: directory.appendingPathComponent(name))
        }
        return files
    }

    func testTwoRanksWriteTheSameBytesAsOne() throws {
        let single = scratch.appendingPathComponent("single"), double = scratch.appendingPathComponent("double")
        let one = try prepare(single, ranks: nil)
        XCTAssertEqual(one.status, 0, "one process: \(one.stderr)")
        XCTAssertTrue(one.stdout.contains("6 shard(s) written, 0 kept"), "one process wrote 6 shards: \(one.stdout)")
        let two = try prepare(double, ranks: 2)
        XCTAssertEqual(two.status, 0, "2 ranks: \(two.stderr)")
        XCTAssertTrue(two.stdout.contains("6 shard(s) written, 0 kept"), "2 ranks wrote 6 shards: \(two.stdout)")
        for rank in 0..<2 {
            XCTAssertEqual(two.stdout.components(separatedBy: "[rank \(rank)/2]").count - 1, 3,
                           "rank \(rank) wrote every other shard, 3 of 6: \(two.stdout)")
        }
        let a = try contents(single), b = try contents(double)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), "the same files")
        XCTAssertEqual(a.count, 6 * 3 + 1, "6 shards of 3 files and the manifest")
        for (name, data) in a { XCTAssertEqual(b[name], data, "\(name): the same bytes on 1 and 2 ranks") }
    }

    func testARerunFinishesAnInterruptedPreparationOnAnotherRankCount() throws {
        let out = scratch.appendingPathComponent("out")
        XCTAssertEqual(try prepare(out, ranks: nil).status, 0, "first preparation")
        let finished = try contents(out)
        // As if killed while writing: prepare.json there, no manifest, test shard 1 not written, train shard 2's
        // images still partial.
        try FileManager.default.removeItem(at: out.appendingPathComponent("manifest.json"))
        for kind in ["images", "labels", "captions"] {
            try FileManager.default.removeItem(at: out.appendingPathComponent("test-00001.\(kind)"))
        }
        let images = out.appendingPathComponent("train-00002.images")
        try FileManager.default.moveItem(at: images, to: URL(fileURLWithPath: images.path + ".partial"))
        let settings = """
            {"dataset": "cifar100", "image_size": 16, "seed": 4, "shard_size": 3, \
            "source": "\(fixtureURL("prepare/cifar100").standardizedFileURL.path)"}
            """
        try Data(settings.utf8).write(to: out.appendingPathComponent("prepare.json"))

        let rerun = try prepare(out, ranks: 2)
        XCTAssertEqual(rerun.status, 0, "rerun on 2 ranks: \(rerun.stderr)")
        XCTAssertTrue(rerun.stdout.contains("2 shard(s) written, 4 kept"), "only the 2 unfinished shards: \(rerun.stdout)")
        let after = try contents(out)
        XCTAssertEqual(after.keys.sorted(), finished.keys.sorted(), "the same files, prepare.json and partials gone")
        for (name, data) in finished { XCTAssertEqual(after[name], data, "\(name): as the uninterrupted preparation") }

        let other = try prepare(out, ranks: nil, extra: ["--image-size", "32"])
        XCTAssertEqual(other.status, 2, "a rerun with other settings is refused: \(other.stdout)")
        XCTAssertTrue(other.stderr.contains("manifest.json: records another preparation"), other.stderr)
    }

    func testBadSourcesAndArgumentsAreRefused() throws {
        let out = scratch.appendingPathComponent("bad")
        let cut = try prepare(out, ranks: 2, source: "cifar100-cut")
        XCTAssertEqual(cut.status, 2, "a broken source: nothing written")
        XCTAssertEqual(cut.stderr.components(separatedBy: "promptcl prepare:").count - 1, 1,
                       "one message, from the lowest rank: \(cut.stderr)")
        XCTAssertTrue(cut.stderr.contains("cifar100-cut/train.bin: record 9 is cut short"), cut.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no output directory")

        let samples = try prepare(out, ranks: nil, extra: ["--samples", "10"])
        XCTAssertNotEqual(samples.status, 0, "--samples for cifar100")
        XCTAssertTrue(samples.stderr.contains("--samples is for the synthetic set only"), samples.stderr)
        let unknown = try TrainJob.promptcl(["prepare", "--dataset", "mnist", "--out", out.path], ranks: nil, logs: out)
        XCTAssertNotEqual(unknown.status, 0, "an unknown dataset")
        XCTAssertTrue(unknown.stderr.contains("\"mnist\" is not one of synthetic, cifar100"), unknown.stderr)
    }
}
