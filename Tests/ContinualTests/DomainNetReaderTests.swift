import Foundation
import XCTest
@testable import Continual

/// DomainNet's file lists (Tests/Fixtures/prepare/domainnet*) through `promptcl prepare`'s reader, and each
/// sample's domain through the prepared directory.
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

    /// Fixture `domainnet`'s domains (its lists sorted) and each sample's, from the expected files' folders.
    private func expectedDomains(_ split: PreparedSplit) throws -> [Int] {
        let entries = try XCTUnwrap(PreparedScratch.expected("domainnet")[split.rawValue] as? [[String: Any]], "\(split)")
        return try entries.map { entry in
            let folder = try XCTUnwrap((entry["file"] as? String)?.split(separator: "/").first, "a file path")
            return try XCTUnwrap(["clipart", "sketch"].firstIndex(of: String(folder)), "domain folder \(folder)")
        }
    }

    func testEveryEntryAndPreparedSampleKeepsItsDomain() throws {
        let source = try ImageListSource.domainNet(directory: PreparedScratch.source("domainnet"), imageSize: 16)
        XCTAssertEqual(source.domainNames, ["clipart", "sketch"], "the domains of the file lists, sorted")
        for split in PreparedSplit.allCases {
            XCTAssertEqual((0..<source.count(of: split)).map { source.domain($0, of: split) }, try expectedDomains(split),
                           "\(split): each entry's domain is its list's")
        }

        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.domainnet, "domainnet", imageSize: 16,
                                                                          shardSize: 3))
        let manifest = try PreparedManifest.load(directory: directory)
        XCTAssertEqual(manifest.version, 2, "format version 2 records domains")
        XCTAssertEqual(manifest.domainNames, ["clipart", "sketch"], "the manifest names the domains")
        XCTAssertEqual(manifest.splits.train.domains, [.init(domain: 0, count: 4), .init(domain: 1, count: 4)],
                       "train: one run per domain")
        XCTAssertEqual(manifest.splits.test.domains, [.init(domain: 0, count: 2), .init(domain: 1, count: 2)],
                       "test: one run per domain")
        for split in PreparedSplit.allCases {
            let dataset = try PreparedDataset(directory: directory, split: split)
            XCTAssertEqual(dataset.domainNames, ["clipart", "sketch"], "\(split): the domains read back")
            XCTAssertEqual((0..<dataset.count).map(dataset.domain(at:)), try expectedDomains(split),
                           "\(split): each sample's domain read back across shards of 3")
        }
        let subset = ClassSubset(try PreparedDataset(directory: directory, split: .train), perClass: 1, seed: 2)
        XCTAssertEqual((0..<subset.count).map(subset.domain(at:)), try subset.kept.map { try expectedDomains(.train)[$0] },
                       "a class subset reads its samples' domains through")
    }

    func testAVersion1DirectoryOpensWithoutDomainsAndARerunAddsThem() throws {
        let settings = PreparedScratch.settings(.domainnet, "domainnet", imageSize: 16)
        let (directory, _) = try scratch.prepare(settings)
        let url = directory.appendingPathComponent("manifest.json")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], "manifest")
        object["version"] = 1
        object["domain_names"] = nil
        for split in ["train", "test"] {
            var record = try XCTUnwrap(object["splits"] as? [String: Any])[split] as! [String: Any]
            record["domains"] = nil
            var splits = object["splits"] as! [String: Any]
            splits[split] = record
            object["splits"] = splits
        }
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let old = try PreparedDataset(directory: directory, split: .train)
        XCTAssertEqual(old.manifest.version, 1, "a version 1 manifest is read")
        XCTAssertEqual(old.domainNames, [], "without domains")
        XCTAssertNil(old.domain(at: 0), "no sample has one")

        let (_, tally) = try scratch.prepare(settings)
        XCTAssertEqual(tally, .init(written: 0, kept: 3), "the rerun keeps every shard (2 train, 1 test)")
        let again = try PreparedDataset(directory: directory, split: .test)
        XCTAssertEqual(again.manifest.version, 2, "and writes a version 2 manifest")
        XCTAssertEqual((0..<again.count).map(again.domain(at:)), try expectedDomains(.test), "with the domains")
    }

    func testDomainRunsThatDoNotFitAreRefusedNamingTheManifest() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.domainnet, "domainnet", imageSize: 16))
        let url = directory.appendingPathComponent("manifest.json")
        let good = try PreparedManifest.load(directory: directory)
        func refuse(_ edit: (inout PreparedManifest) -> Void, _ phrase: String, _ what: String) throws {
            var manifest = good
            edit(&manifest)
            try PreparedFormat.json(manifest).write(to: url)
            assertThrows(naming: url.path, [phrase], { _ = try PreparedDataset(directory: directory, split: .train) }, what)
        }
        try refuse({ $0.splits.train.domains![1].count = 3 }, "its domain runs cover 7 samples", "runs short of the count")
        try refuse({ $0.splits.test.domains![0].domain = 2 }, "needs a domain in 0..<2", "an unknown domain")
        try refuse({ $0.splits.train.domains = nil }, "train has no domains", "names without runs")
        try refuse({ $0.domainNames = nil }, "no domain_names", "runs without names")
        try refuse({ $0.domainNames = ["clipart", "clipart"] }, "must be distinct", "a repeated name")
    }

    func testAPathInAnotherDomainsFolderIsRefused() throws {
        let root = scratch.root.appendingPathComponent("lists")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("sketch/ant/sketch_train_002.jpg 2\n".utf8).write(to: root.appendingPathComponent("clipart_train.txt"))
        try Data().write(to: root.appendingPathComponent("clipart_test.txt"))
        assertThrows(naming: root.appendingPathComponent("clipart_train.txt").path + " line 1",
                     ["is in folder \"sketch\"", "domain clipart"], {
            _ = try ImageListSource.domainNet(directory: root, imageSize: 16)
        }, "a clipart list naming a sketch image")
    }
}
