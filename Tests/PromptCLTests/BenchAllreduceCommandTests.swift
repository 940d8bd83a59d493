import Foundation
import XCTest

/// `promptcl bench allreduce --json` as a script reads it, on 2 ranks (the built binary under launch/mpirun):
/// one JSON object per timed step, printed once, with its keys; the bytes of the VPT-deep prompts; every prompted
/// layer but the first reduced in a bucket during the backward; both ways give the same gradients. Two layers of
/// the tower and one image keep it to seconds in a debug build.
final class BenchAllreduceCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-bench-ar-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func testTwoRanksPrintOneObjectPerStep() throws {
        let arguments = ["bench", "allreduce", "--json", "--batch", "1", "--steps", "2", "--layers", "2", "--prompts", "3"]
        let result = try TrainJob.promptcl(arguments, ranks: 2, logs: scratch.appendingPathComponent("np2"), timeout: 180)
        XCTAssertEqual(result.status, 0, "exit status; stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 2, "one line per timed step, from rank 0 only:\n\(result.stdout)")
        let keys: Set = ["step", "ranks", "batch", "prompts", "layers", "bytes", "blocking_step_ms", "allreduce_ms",
                         "allreduce_mean_ms", "overlapped_step_ms", "exposed_ms", "exposed_mean_ms", "buckets", "bare_ms",
                         "bare_mean_ms", "max_difference"]
        for (index, line) in lines.enumerated() {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                       "not a JSON object: \(line)")
            XCTAssertEqual(Set(object.keys), keys, "the keys of \(line)")
            XCTAssertEqual(object["step"] as? Int, index, "steps in order")
            XCTAssertEqual(object["ranks"] as? Int, 2, "the job's ranks")
            XCTAssertEqual(object["bytes"] as? Int, 2 * 3 * 768 * 4, "2 layers x 3 prompts x 768 floats")
            XCTAssertEqual(object["buckets"] as? Int, 1, "vpt.layer1 goes during the backward, vpt.layer0 after it")
            XCTAssertEqual((object["max_difference"] as? NSNumber)?.doubleValue, 0,
                           "bucketed and blocking sums agree bit for bit on 2 ranks")
            for key in keys where key.hasSuffix("_ms") {
                let value = (object[key] as? NSNumber)?.doubleValue ?? -1
                XCTAssertTrue(value.isFinite && value >= 0, "\(key) = \(value) in \(line)")
            }
            let step = (object["overlapped_step_ms"] as? NSNumber)?.doubleValue ?? 0
            let exposed = (object["exposed_ms"] as? NSNumber)?.doubleValue ?? .infinity
            XCTAssertLessThanOrEqual(exposed, step, "the exposed communication is part of the step: \(line)")
        }
    }
}
