import Foundation
import XCTest

/// `promptcl bench nullspace --json` as a script reads it: every line one JSON object, one statistics object
/// per batch size with its keys and times, one SVD object per route and rank count, times positive and
/// finite, printed once (by rank 0) however many ranks run it. One layer of the tower keeps it to seconds
/// in a debug build.
final class BenchNullSpaceCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-bench-ns-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private let arguments = ["bench", "nullspace", "--json", "--batch", "1", "--repeats", "1", "--svd-rows", "64",
                             "--layers", "1"]
    private let statisticsKeys: Set = ["measure", "batch", "threads", "layers", "factored_s", "gram_s", "forward_s"]
    private let svdKeys: Set = ["measure", "route", "ranks", "rows", "columns", "seconds"]

    func testOneProcessPrintsEveryMeasurementAsJSON() throws {
        let result = try TrainJob.promptcl(arguments, ranks: nil, logs: scratch.appendingPathComponent("single"),
                                           timeout: 120)
        XCTAssertEqual(result.status, 0, "exit status; stderr: \(result.stderr)")
        let (statistics, svd) = try measurements(result.stdout)
        XCTAssertEqual(statistics.map { $0["batch"] as? Int }, [1], "one statistics object, batch 1")
        XCTAssertEqual(statistics.first?["layers"] as? Int, 1, "--layers 1")
        XCTAssertEqual(statistics.first?["threads"] as? Int, 1, "--threads defaults to 1")
        XCTAssertEqual(Set(svd.map { "\($0["route"] ?? "") on \($0["ranks"] ?? "")" }), ["svd on 1", "qr on 1"],
                       "both routes on the one rank of the job")
    }

    /// At 2 ranks: `--ranks 3` is skipped with a note, ranks 1 and 2 are measured, each line printed once.
    func testTwoRanksMeasureEachRankCountOnce() throws {
        let result = try TrainJob.promptcl(arguments + ["--ranks", "1", "--ranks", "2", "--ranks", "3"], ranks: 2,
                                           logs: scratch.appendingPathComponent("np2"), timeout: 180)
        XCTAssertEqual(result.status, 0, "exit status; stderr: \(result.stderr)")
        let (statistics, svd) = try measurements(result.stdout)
        XCTAssertEqual(statistics.count, 1, "the statistics pass, printed by rank 0 only")
        XCTAssertEqual(svd.map { "\($0["route"] ?? "") on \($0["ranks"] ?? "")" },
                       ["svd on 1", "qr on 1", "svd on 2", "qr on 2"], "each route at 1 and 2 ranks, once, in order")
        XCTAssertEqual(svd.map { $0["total_rows"] as? Int }, [832, 832, 896, 896],
                       "64 rows per rank plus the previous 768 x 768 factor")
        XCTAssertTrue(result.stderr.contains("--ranks 3 skipped"), "a note for --ranks 3; stderr: \(result.stderr)")
    }

    /// The objects of `stdout`, every line checked: statistics ones with their keys and times, SVD ones with
    /// theirs, columns 768 and 64 rows per rank.
    private func measurements(_ stdout: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> (statistics: [[String: Any]], svd: [[String: Any]]) {
        let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        XCTAssertFalse(lines.isEmpty, "no output", file: file, line: line)
        var statistics: [[String: Any]] = [], svd: [[String: Any]] = []
        for text in lines {
            let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8))
            guard let object = parsed as? [String: Any] else {
                XCTFail("not a JSON object: \(text)", file: file, line: line)
                continue
            }
            func assertTimes(_ keys: [String]) {
                for key in keys {
                    let value = (object[key] as? NSNumber)?.doubleValue ?? .nan
                    XCTAssertTrue(value.isFinite && value > 0, "\(key) = \(object[key] ?? "nothing") in \(text)",
                                  file: file, line: line)
                }
            }
            switch object["measure"] as? String {
            case "statistics":
                XCTAssertTrue(statisticsKeys.isSubset(of: object.keys), "statistics keys in \(text)", file: file, line: line)
                assertTimes(["factored_s", "gram_s", "forward_s", "factored_end_s", "gram_end_s"])
                statistics.append(object)
            case "svd":
                XCTAssertTrue(svdKeys.isSubset(of: object.keys), "SVD keys in \(text)", file: file, line: line)
                XCTAssertEqual(object["columns"] as? Int, 768, "columns in \(text)", file: file, line: line)
                XCTAssertEqual(object["rows"] as? Int, 64, "rows per rank in \(text)", file: file, line: line)
                assertTimes(["seconds"])
                svd.append(object)
            default:
                XCTFail("unknown measure in \(text)", file: file, line: line)
            }
        }
        return (statistics, svd)
    }
}
