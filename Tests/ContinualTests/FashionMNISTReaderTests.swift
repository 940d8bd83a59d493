import Foundation
import XCTest
@testable import Continual

/// Fashion-MNIST's gzipped IDX files (Tests/Fixtures/prepare/fashion-mnist*) through `promptcl prepare`'s reader.
final class FashionMNISTReaderTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    func testPreparedAtTheNativeSizeHoldsTheGrayPixelsInEveryChannel() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.fashionMNIST, "fashion-mnist", imageSize: 28,
                                                                          shardSize: 5))
        let expected = try PreparedScratch.expected("fashion-mnist")
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            let want = try XCTUnwrap(expected[split.rawValue] as? [String: Any], "expected \(split)")
            let labels = try XCTUnwrap(want["labels"] as? [Int], "labels")
            let images = try XCTUnwrap(want["images"] as? [[Int]], "images")
            XCTAssertEqual(dataset.count, labels.count, "\(split) count")
            XCTAssertEqual(dataset.classNames, FashionMNISTSource.classNames, "class names")
            for i in 0..<dataset.count {
                let gray = images[i].map(UInt8.init)
                XCTAssertEqual(dataset.bytes(i), gray + gray + gray, "\(split) image \(i): gray in R, G and B")
                XCTAssertEqual(dataset.label(at: i), labels[i], "\(split) label \(i)")
                XCTAssertEqual(dataset.captions(at: i), ["a photo of a \(FashionMNISTSource.classNames[labels[i]])."],
                               "\(split) caption \(i)")
            }
        }
    }

    func testPreparedAtAnotherSizeIsResizedAsCLIPDoes() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.fashionMNIST, "fashion-mnist", imageSize: 32))
        let dataset = try PreparedDataset(directory: directory, split: .test)
        let images = try XCTUnwrap((PreparedScratch.expected("fashion-mnist")["test"] as? [String: Any])?["images_32"]
                                   as? [[Int]], "expected test images at 32 px")
        for i in 0..<dataset.count {
            XCTAssertEqual(dataset.bytes(i), images[i].map(UInt8.init), "test image \(i): 28 -> 32 px as Pillow's bicubic")
        }
    }

    func testBrokenFilesAreRefusedNamingTheFile() {
        assertSourceRefused(.fashionMNIST, "fashion-mnist-truncated", naming: "train-images-idx3-ubyte.gz",
                            ["has 9308 data bytes", "12 x 28 x 28 = 9408", "truncated"])
        assertSourceRefused(.fashionMNIST, "fashion-mnist-wrong-magic", naming: "train-images-idx3-ubyte.gz",
                            ["not an IDX file of unsigned bytes", "0x0d"])
        assertSourceRefused(.fashionMNIST, "fashion-mnist-label-count", naming: "train-labels-idx1-ubyte.gz",
                            ["11 labels for the 12 images"])
        assertSourceRefused(.fashionMNIST, "fashion-mnist-bad-gzip", naming: "train-images-idx3-ubyte.gz",
                            ["gzip stream damaged", "unexpected end of file"])
        assertSourceRefused(.fashionMNIST, "cifar100", naming: "train-images-idx3-ubyte", ["missing"])
    }
}
