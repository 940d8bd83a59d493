import Foundation
import XCTest
@testable import Continual

/// Class-folder datasets (ImageNet-R, Tests/Fixtures/prepare/imagenet-r*) through `promptcl prepare`'s reader.
final class ClassFolderReaderTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    /// expected.json's files: relative path -> (label, Pillow-decoded pixels (3, 16, 16)).
    private func expectedFiles() throws -> [String: (label: Int, image: [UInt8])] {
        let files = try XCTUnwrap(PreparedScratch.expected("imagenet-r")["files"] as? [String: [String: Any]], "files")
        return try files.mapValues { entry in
            (try XCTUnwrap(entry["label"] as? Int, "label"), try XCTUnwrap(entry["image"] as? [Int], "image").map(UInt8.init))
        }
    }

    func testSplitIsPerClassEightyTwentyAndEveryImageArrivesOnce() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.imagenetR, "imagenet-r", imageSize: 16, seed: 3))
        let files = try expectedFiles()
        var unseen = Set(files.keys)
        var testPerClass = [0, 0, 0]
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            XCTAssertEqual(dataset.classNames, ["goldfish", "great white shark", "hammerhead"], "names from README.txt")
            for i in 0..<dataset.count {
                // 16 px square JPEGs at 16 px: the stored bytes are the decoded pixels; find the file by them.
                let match = files.first { $0.value.image == dataset.bytes(i) }
                let (file, entry) = try XCTUnwrap(match, "\(split) sample \(i) is one of the fixture's images as Pillow decodes it")
                XCTAssertNotNil(unseen.remove(file), "\(file) arrives once")
                XCTAssertEqual(dataset.label(at: i), entry.label, "\(file): label of its folder")
                XCTAssertEqual(dataset.caption(at: i), "a photo of a \(dataset.classNames[entry.label]).", "\(file) caption")
                if split == .test { testPerClass[entry.label] += 1 }
            }
        }
        XCTAssertTrue(unseen.isEmpty, "every image prepared (not: \(unseen.sorted()))")
        XCTAssertEqual(testPerClass, [1, 1, 1], "round(20% of 5, 4 and 6) = 1 test image per class")
        let notes = try PreparedDataset(directory: directory, split: .train).manifest.notes.joined()
        XCTAssertTrue(notes.contains("80/20 split") && notes.contains("seed 3"), "the split rule recorded: \(notes)")
    }

    func testTheSeedDrawsTheTestImages() throws {
        let source = PreparedScratch.source("imagenet-r")
        let testFiles = { (seed: UInt64) in
            try ImageListSource.classFolders(directory: source, imageSize: 16, seed: seed).test.map(\.file.lastPathComponent)
        }
        XCTAssertEqual(try testFiles(3), try testFiles(3), "the same seed, the same split")
        let draws = Set(try (0..<8).map { try testFiles(UInt64($0)) })
        XCTAssertGreaterThan(draws.count, 1, "other seeds draw other test images: \(draws)")
    }

    func testBrokenFoldersAreRefusedNamingThem() {
        assertSourceRefused(.imagenetR, "imagenet-r-empty-class", naming: "n01484850",
                            ["class folder holds no .jpg or .jpeg images"])
        assertSourceRefused(.imagenetR, "imagenet-r/n01443537", naming: "", ["holds no class folders"])
    }
}
