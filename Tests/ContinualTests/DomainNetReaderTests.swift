import Foundation
import XCTest
@testable import Continual

/// DomainNet's file lists (Tests/Fixtures/prepare/domainnet*) through `promptcl prepare`'s reader.
final class DomainNetReaderTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    func testTheListsLinesInOrderDomainAfterDomain() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.domainnet, "domainnet", imageSize: 16))
        let expected = try PreparedScratch.expected("domainnet")
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            XCTAssertEqual(dataset.classNames, expected["class_names"] as? [String], "class names from the folders")
            let entries = try XCTUnwrap(expected[split.rawValue] as? [[String: Any]], "expected \(split)")
            XCTAssertEqual(dataset.count, entries.count, "\(split): every line")
            for (i, entry) in entries.enumerated() {
                XCTAssertEqual(dataset.bytes(i), try XCTUnwrap(entry["image"] as? [Int]).map(UInt8.init),
                               "\(split) sample \(i) is \(entry["file"]!) as Pillow decodes it")
                XCTAssertEqual(dataset.label(at: i), entry["label"] as? Int, "\(split) sample \(i) label")
            }
        }
    }

    func testBrokenListsAreRefusedNamingTheFileAndLine() {
        assertSourceRefused(.domainnet, "domainnet-missing-file", naming: "clipart_train.txt line 2",
                            ["clipart_train_999.jpg is missing"])
        assertSourceRefused(.domainnet, "domainnet-bad-line", naming: "sketch_test.txt line 3",
                            ["expected \"DOMAIN/CLASS/FILE.jpg LABEL\""])
        assertSourceRefused(.domainnet, "cifar100", naming: "", ["holds no DOMAIN_train.txt file lists"])
    }
}
