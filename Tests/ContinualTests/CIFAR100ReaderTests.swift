import Foundation
import XCTest
@testable import Continual

/// CIFAR-100's binary records (Tests/Fixtures/prepare/cifar100*) through `promptcl prepare`'s reader.
final class CIFAR100ReaderTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    func testPreparedAt32PixelsHoldsTheRecordsPlanes() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.cifar100, "cifar100", imageSize: 32, seed: 9))
        let expected = try PreparedScratch.expected("cifar100")
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            let want = try XCTUnwrap(expected[split.rawValue] as? [String: Any], "expected \(split)")
            let labels = try XCTUnwrap(want["labels"] as? [Int], "labels")
            let images = try XCTUnwrap(want["images"] as? [[Int]], "images")
            XCTAssertEqual(dataset.count, labels.count, "\(split) count")
            for i in 0..<dataset.count {
                XCTAssertEqual(dataset.bytes(i), images[i].map(UInt8.init), "\(split) image \(i): R, G, B planes")
                XCTAssertEqual(dataset.label(at: i), labels[i], "\(split) fine label \(i)")
                XCTAssertEqual(dataset.caption(at: i), "a photo of a \(dataset.classNames[labels[i]]).", "caption \(i)")
            }
            XCTAssertEqual(dataset.classNames.count, 100, "100 fine classes")
            XCTAssertEqual(dataset.classNames[1], "aquarium fish", "underscores read as spaces")
            XCTAssertEqual(dataset.classOrder, try TaskSplit(classCount: 100, taskCount: 10, seed: 9).classOrder,
                           "class order from the seed")
        }
        let split = try TaskSplit(classOrder: try PreparedDataset(directory: directory, split: .train).classOrder,
                                  taskCount: 20)
        XCTAssertEqual(split.classesPerTask, 5, "the recorded order cuts into CIFAR-100's 20 tasks of 5")
    }

    func testPreparedAt16PixelsIsResized() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.cifar100, "cifar100", imageSize: 16))
        let dataset = try PreparedDataset(directory: directory, split: .train)
        let planes = try XCTUnwrap((PreparedScratch.expected("cifar100")["train"] as? [String: Any])?["images"]
                                   as? [[Int]], "expected train images")[2].map(UInt8.init)
        var interleaved = [UInt8](repeating: 0, count: planes.count)
        for i in 0..<1024 { for c in 0..<3 { interleaved[3 * i + c] = planes[c * 1024 + i] } }
        XCTAssertEqual(dataset.bytes(2),
                       CLIPImagePreprocessing.resizeAndCrop(RGBImage(width: 32, height: 32, pixels: interleaved), size: 16),
                       "train image 2: 32 -> 16 px bicubic")
    }

    func testBrokenFilesAreRefusedNamingTheFileAndRecord() {
        assertSourceRefused(.cifar100, "cifar100-cut", naming: "train.bin",
                            ["record 9 is cut short", "2074 of its 3074 bytes"])
        assertSourceRefused(.cifar100, "cifar100-bad-label", naming: "train.bin", ["record 3", "fine label 100"])
        assertSourceRefused(.cifar100, "cifar100-names", naming: "fine_label_names.txt", ["names 99 classes"])
        assertSourceRefused(.cifar100, "fashion-mnist", naming: "fine_label_names.txt", ["missing"])
    }
}
