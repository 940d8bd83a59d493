import XCTest
@testable import Continual

/// Which config changes a resumed run may make: only checkpoint.* and train.log_every_steps.
final class ConfigDifferenceTests: XCTestCase {
    func testKeysThatChangeTheRunAreListedAndTheOthersAreNot() throws {
        let saved = TrainingConfig()
        var current = saved
        current.checkpoint.everySteps = 100
        current.checkpoint.keepLast = 9
        current.train.logEverySteps = 1
        XCTAssertTrue(try ConfigDifference(saved: saved, current: current).isEmpty,
                      "checkpoint.* and train.log_every_steps may change")
        current.seed = 3
        current.method.name = .lpiM
        current.optimizer.lr = 0.5
        let keys = try ConfigDifference(saved: saved, current: current).keys
        XCTAssertEqual(keys.map(\.name), ["method.name", "optimizer.lr", "seed"], "the keys that matter, sorted")
        XCTAssertEqual(keys.first?.description, "method.name: \"vpt-seq\" in the checkpoint, \"lpi-m\" now",
                       "each with both values as TOML writes them")
    }
}
