import Foundation
import XCTest
@testable import Continual

/// COCO captions as LPI's 12 supercategory tasks (Tests/Fixtures/prepare/coco*) through `promptcl prepare`'s reader.
final class COCOReaderTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    func testTasksByLargestAreaAllCaptionsAndTheFixedOrder() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.coco, "coco", imageSize: 16, shardSize: 2))
        let expected = try PreparedScratch.expected("coco")
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            XCTAssertEqual(dataset.classNames, COCOSource.lpiOrder, "the 12 supercategories in LPI's order")
            XCTAssertEqual(dataset.classOrder, Array(0..<12), "the class order is LPI's, not drawn")
            XCTAssertNil(dataset.manifest.classOrderSeed, "no seed for a fixed order")
            let samples = try XCTUnwrap(expected[split.rawValue] as? [[String: Any]], "expected \(split)")
            XCTAssertEqual(dataset.count, samples.count, "\(split): the images with instances, in id order")
            for (i, sample) in samples.enumerated() {
                let id = try XCTUnwrap(sample["image_id"] as? Int)
                XCTAssertEqual(dataset.label(at: i), sample["label"] as? Int, "image \(id): task of the largest area")
                XCTAssertEqual(dataset.captions(at: i), sample["captions"] as? [String], "image \(id): all its captions")
                let (width, height) = (try XCTUnwrap(sample["width"] as? Int), try XCTUnwrap(sample["height"] as? Int))
                let planes = try XCTUnwrap(sample["image"] as? [Int]).map(UInt8.init)
                var decoded = [UInt8](repeating: 0, count: planes.count)
                for p in 0..<(width * height) { for c in 0..<3 { decoded[3 * p + c] = planes[c * width * height + p] } }
                XCTAssertEqual(dataset.bytes(i), CLIPImagePreprocessing.resizeAndCrop(
                                   RGBImage(width: width, height: height, pixels: decoded), size: 16),
                               "image \(id): Pillow's decoding, resized and centre-cropped to 16 px")
            }
            XCTAssertEqual(dataset.captionCount, samples.reduce(0) { $0 + ($1["captions"] as! [String]).count },
                           "\(split): caption count")
        }
        let notes = try PreparedDataset(directory: directory, split: .train).manifest.notes.joined(separator: "\n")
        XCTAssertTrue(notes.contains("train2017, 5 images kept, 1 without instance annotations left out"),
                      "the dropped image is counted: \(notes)")
    }

    func testBrokenAnnotationsAreRefusedNamingTheFile() {
        assertSourceRefused(.coco, "coco-missing-image", naming: "train2017/000000000049.jpg",
                            ["missing", "captions_train2017.json lists it as image id 49"])
        assertSourceRefused(.coco, "coco-bad-json", naming: "annotations/instances_val2017.json",
                            ["is not COCO annotation JSON", "not valid JSON"])
        assertSourceRefused(.coco, "coco-unknown-image", naming: "annotations/captions_train2017.json",
                            ["caption annotation 5 is of image id 77"])
        assertSourceRefused(.coco, "cifar100", naming: "annotations", ["neither captions_train2017.json"])
    }
}
