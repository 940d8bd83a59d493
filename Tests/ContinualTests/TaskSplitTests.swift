import Foundation
import XCTest
@testable import Continual

/// Class-incremental splits: coverage, disjointness, recorded order and errors.
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
}
