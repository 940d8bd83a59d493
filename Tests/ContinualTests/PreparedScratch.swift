import Foundation
import TestSupport
import XCTest
@testable import Continual

/// A scratch directory for the prepared-dataset tests, and the helpers they share: preparing a fixture with
/// `DatasetPreparer` on one process (begin, every shard, finish), and asserting that an error names a file.
final class PreparedScratch {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-prepared-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// `Tests/Fixtures/prepare/NAME`.
    static func source(_ name: String) -> URL { fixtureURL("prepare/\(name)") }

    /// Prepares `settings` into `root/out` (or `out`) on one process; returns the directory and what was done.
    @discardableResult
    func prepare(_ settings: PreparationSettings, out: String = "out") throws -> (URL, DatasetPreparer.Tally) {
        let directory = root.appendingPathComponent(out)
        let preparer = try DatasetPreparer(settings: settings, directory: directory)
        try preparer.begin()
        let tally = try preparer.writeShards(rank: 0, ranks: 1)
        try preparer.finish()
        return (directory, tally)
    }

    /// The settings for fixture `name` of `dataset`.
    static func settings(_ dataset: DataSection.Dataset, _ name: String, imageSize: Int, shardSize: Int = 4,
                         seed: UInt64 = 0) -> PreparationSettings {
        PreparationSettings(dataset: dataset, source: source(name).path, imageSize: imageSize, shardSize: shardSize,
                            seed: seed)
    }

    /// The JSON object of a fixture's expected.json.
    static func expected(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: source(name).appendingPathComponent("expected.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name)/expected.json")
    }
}

/// Asserts that `body` throws an error whose description contains `file`'s name (or path) and every one of
/// `phrases`.
func assertThrows(naming file: String, _ phrases: [String], _ body: () throws -> Void, _ message: String,
                  file sourceFile: StaticString = #filePath, line: UInt = #line) {
    do {
        try body()
        XCTFail("\(message): no error", file: sourceFile, line: line)
    } catch {
        let text = "\(error)"
        XCTAssertTrue(text.contains(file), "\(message): the error names \(file): \(text)", file: sourceFile, line: line)
        for phrase in phrases {
            XCTAssertTrue(text.contains(phrase), "\(message): the error says \"\(phrase)\": \(text)",
                          file: sourceFile, line: line)
        }
    }
}

extension PreparedDataset {
    /// Sample `index`'s stored bytes (3, S, S).
    func bytes(_ index: Int) -> [UInt8] { Array(imageBytes(at: index)) }
}

/// Asserts that preparing fixture `name` as `dataset` fails before anything is written, with an error naming
/// `file` (a path relative to the fixture) and saying every one of `phrases`.
func assertSourceRefused(_ dataset: DataSection.Dataset, _ name: String, naming file: String, _ phrases: [String],
                         sourceFile: StaticString = #filePath, line: UInt = #line) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-refused-\(UUID())")
    assertThrows(naming: PreparedScratch.source(name).appendingPathComponent(file).path, phrases, {
        _ = try DatasetPreparer(settings: PreparedScratch.settings(dataset, name, imageSize: 16), directory: directory)
    }, "\(name)", file: sourceFile, line: line)
    XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path), "\(name): nothing written",
                   file: sourceFile, line: line)
}
