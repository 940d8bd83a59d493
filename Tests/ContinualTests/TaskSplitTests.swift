import Foundation
import XCTest
@testable import Continual

/// Class- and domain-incremental splits: coverage, disjointness, recorded order, task names and errors.
final class TaskSplitTests: XCTestCase {
    func testTasksCoverEveryClassOnceAndIndicesMatchLabels() throws {
        let dataset = try SyntheticShapes(count: 2 * SyntheticShapes.classCount, imageSize: 8, seed: 1)
        let split = try TaskSplit(classCount: SyntheticShapes.classCount, taskCount: 6, seed: 42)
        XCTAssertEqual(split.classesPerTask, 8, "48 classes over 6 tasks")
        XCTAssertNotEqual(split.classOrder, Array(0..<48), "the order is shuffled")
        var seenClasses = [Int]()
        var seenIndices = Set<Int>()
        for t in 0..<split.taskCount {
            let classes = split.classes(ofTask: t)
            XCTAssertEqual(classes.count, 8, "task \(t) size")
            XCTAssertTrue(Set(classes).isDisjoint(with: seenClasses), "task \(t) shares no class with earlier tasks")
            seenClasses += classes
            XCTAssertEqual(Array(split.classesSeen(upTo: t)), seenClasses, "classes seen up to task \(t)")

            let indices = split.indices(ofTask: t, in: dataset)
            XCTAssertEqual(indices, indices.sorted(), "task \(t) indices ascending")
            XCTAssertEqual(indices.count, 16, "task \(t): 8 classes x 2 samples")
            XCTAssertTrue(indices.allSatisfy { classes.contains(dataset.label(at: $0)) }, "task \(t) labels")
            XCTAssertTrue(seenIndices.isDisjoint(with: indices), "task \(t) indices are new")
            seenIndices.formUnion(indices)
        }
        XCTAssertEqual(Set(seenClasses), Set(0..<48), "every class in some task")
        XCTAssertEqual(seenIndices, Set(0..<dataset.count), "every sample in some task")
    }

    func testOrderIsSeededAndRecorded() throws {
        let a = try TaskSplit(classCount: 100, taskCount: 10, seed: 7)
        XCTAssertEqual(a, try TaskSplit(classCount: 100, taskCount: 10, seed: 7), "same seed, same order")
        XCTAssertNotEqual(a.classOrder, try TaskSplit(classCount: 100, taskCount: 10, seed: 8).classOrder, "other seed")
        let decoded = try JSONDecoder().decode(TaskSplit.self, from: JSONEncoder().encode(a))
        XCTAssertEqual(decoded, a, "JSON round trip keeps the order")
    }

    func testBadSplitsThrowClearErrors() {
        func message(_ body: () throws -> TaskSplit) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { try TaskSplit(classCount: 100, taskCount: 7, seed: 0) },
                       "task split: 100 classes do not divide into 7 tasks of equal size")
        XCTAssertTrue(message { try TaskSplit(classCount: 10, taskCount: 0, seed: 0) }.contains("task count 0"))
        XCTAssertTrue(message { try TaskSplit(classCount: 0, taskCount: 1, seed: 0) }.contains("class count 0"))
        XCTAssertTrue(message { try TaskSplit(classOrder: [0, 2, 2, 3], taskCount: 2) }.contains("not a permutation"))
        let bad = Data(#"{"classOrder": [0, 1, 1], "taskCount": 3}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(TaskSplit.self, from: bad), "decoding checks the order") {
            XCTAssertTrue("\($0)".contains("not a permutation"), "\($0)")
        }
    }

    /// A dataset of 5 classes over 3 domains whose samples are not ordered by domain.
    private let domained = DomainedDataset(labels: [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 2, 2],
                                           domains: [2, 0, 1, 1, 0, 2, 2, 0, 1, 0, 2, 1],
                                           classNames: ["cat", "dog", "ant", "bee", "owl"],
                                           domainNames: ["clipart", "painting", "sketch"])

    func testADomainSplitHasOneTaskPerDomainOverEveryClass() throws {
        let dataset = domained
        let split = try TaskSplit(domainNames: dataset.domainNames, classCount: 5)
        XCTAssertEqual(split.kind, .domainIncremental, "a domain split")
        XCTAssertEqual(split.taskCount, 3, "one task per domain")
        XCTAssertEqual(split.classesPerTask, 5, "every class in every task")
        var seenIndices = Set<Int>()
        for t in 0..<3 {
            XCTAssertEqual(Array(split.classes(ofTask: t)), [0, 1, 2, 3, 4], "task \(t): every class, in label order")
            XCTAssertEqual(Array(split.classesSeen(upTo: t)), [0, 1, 2, 3, 4], "seen up to task \(t): every class")
            let indices = split.indices(ofTask: t, in: dataset)
            XCTAssertEqual(indices, (0..<12).filter { dataset.domains[$0] == t }, "task \(t): the samples of its domain")
            XCTAssertTrue(seenIndices.isDisjoint(with: indices), "task \(t) indices are new")
            seenIndices.formUnion(indices)
        }
        XCTAssertEqual(split.indices(ofTask: 0, in: dataset), [1, 4, 7, 9], "clipart's samples, wherever they lie")
        XCTAssertEqual(seenIndices, Set(0..<12), "every sample in some task")
        XCTAssertEqual(TaskNameSimilarity.names(split: split, classNames: dataset.classNames),
                       ["clipart", "painting", "sketch"], "CPA's task names are the domains")
        let byClass = try TaskSplit(classOrder: [4, 3, 2, 1, 0, 5], taskCount: 2)
        XCTAssertEqual(TaskNameSimilarity.names(split: byClass, classNames: ["a", "b", "c", "d", "e", "f"]),
                       ["e, d, c", "b, a, f"], "a class split's task names are its classes'")
    }

    func testBothKindsRoundTripAndTheClassFormIsUnchanged() throws {
        let domains = try TaskSplit(domainNames: ["clipart", "sketch"], classCount: 4)
        let decoded = try JSONDecoder().decode(TaskSplit.self, from: JSONEncoder().encode(domains))
        XCTAssertEqual(decoded, domains, "a domain split round-trips")
        XCTAssertEqual(decoded.domainNames, ["clipart", "sketch"], "with its domains")

        let classes = try TaskSplit(classCount: 6, taskCount: 3, seed: 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(classes)) as? [String: Any],
                                   "a JSON object")
        XCTAssertEqual(Set(object.keys), ["classOrder", "taskCount"], "a class split encodes as before")
        let old = Data(#"{"classOrder": [2, 0, 1, 3], "taskCount": 2}"#.utf8)
        let read = try JSONDecoder().decode(TaskSplit.self, from: old)
        XCTAssertEqual(read.kind, .classIncremental, "a split recorded before kinds existed is a class split")
        XCTAssertEqual(Array(read.classes(ofTask: 1)), [1, 3], "with its recorded order")

        let shuffled = Data(#"{"kind": "domain", "classOrder": [1, 0], "taskCount": 1, "domainNames": ["real"]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(TaskSplit.self, from: shuffled), "a domain split's order is fixed") {
            XCTAssertTrue("\($0)".contains("every class in label order"), "\($0)")
        }
        XCTAssertThrowsError(try TaskSplit(domainNames: [], classCount: 3), "no domain") {
            XCTAssertTrue("\($0)".contains("at least one domain"), "\($0)")
        }
        XCTAssertThrowsError(try TaskSplit(domainNames: ["real", "real"], classCount: 3), "a repeated domain") {
            XCTAssertTrue("\($0)".contains("repeat"), "\($0)")
        }
    }
}
