import Foundation
import Numerics
import XCTest

/// `LearningRateSchedule` against torch's schedulers evaluated once per step on a run of 3 epochs x 7 steps
/// (Tests/Fixtures/make_optimizer_fixtures.py), at known points, and its validation.
final class LearningRateScheduleTests: XCTestCase {
    /// Rate at epoch step / 7 against torch's lr for that step. torch works in Double and so does `rate`, but
    /// torch's cosine is the recursive (chainable) form: the two agree to ~1e-15; Float rounding leaves 1e-7.
    func testMatchesTorchSchedulersPerStep() throws {
        let fixtures = try OptimizerFixtures.load().schedules
        XCTAssertEqual(fixtures.cases.count, 4, "fixture cases")
        for testCase in fixtures.cases {
            let total = Double(fixtures.epochs)
            try testCase.schedule.validate(totalEpochs: total)
            XCTAssertEqual(testCase.rates.count, fixtures.epochs * fixtures.stepsPerEpoch, "\(testCase.name): steps")
            var worst: Float = 0
            for (step, expected) in testCase.rates.enumerated() {
                let rate = testCase.schedule.rate(base: fixtures.base, epoch: Double(step) / Double(fixtures.stepsPerEpoch),
                                                  totalEpochs: total)
                let error = abs(rate - expected) / expected
                worst = max(worst, error)
                XCTAssertLessThan(error, 1e-6, "\(testCase.name) step \(step): rate \(rate), torch \(expected)")
            }
            print("schedule \(testCase.name): max relative error \(worst)")
        }
    }

    func testKnownPoints() {
        let cosine = LearningRateSchedule(kind: .cosine, minLR: 0.002)
        XCTAssertEqual(cosine.rate(base: 0.01, epoch: 0, totalEpochs: 10), 0.01, "cosine starts at base")
        XCTAssertEqual(cosine.rate(base: 0.01, epoch: 5, totalEpochs: 10), 0.006, accuracy: 1e-9, "cosine half-way")
        XCTAssertEqual(cosine.rate(base: 0.01, epoch: 10, totalEpochs: 10), 0.002, accuracy: 1e-9, "cosine end")
        XCTAssertEqual(cosine.rate(base: 0.01, epoch: 12, totalEpochs: 10), 0.002, accuracy: 1e-9, "cosine stays at minLR")

        let warm = LearningRateSchedule(kind: .cosine, warmupEpochs: 2, warmupStartFactor: 0.1, minLR: 0)
        XCTAssertEqual(warm.rate(base: 1, epoch: 0, totalEpochs: 10), 0.1, accuracy: 1e-7, "warm-up start")
        XCTAssertEqual(warm.rate(base: 1, epoch: 1, totalEpochs: 10), 0.55, accuracy: 1e-7, "warm-up middle")
        XCTAssertEqual(warm.rate(base: 1, epoch: 2, totalEpochs: 10), 1, "warm-up end is base")
        XCTAssertEqual(warm.rate(base: 1, epoch: 6, totalEpochs: 10), 0.5, accuracy: 1e-7, "cosine half-way after warm-up")

        let step = LearningRateSchedule(kind: .step, gamma: 0.5, milestones: [2, 3.5])
        let rates = [0, 1.999, 2, 3.4, 3.5, 9].map { step.rate(base: 0.8, epoch: $0, totalEpochs: 10) }
        XCTAssertEqual(rates, [0.8, 0.8, 0.4, 0.4, 0.2, 0.2], "multiplied by gamma at each milestone")
        XCTAssertEqual(LearningRateSchedule(kind: .constant).rate(base: 0.3, epoch: 7, totalEpochs: 10), 0.3, "constant")
    }

    func testDecodingAndValidationNameTheField() throws {
        func decode(_ json: String) throws -> LearningRateSchedule {
            try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8))
        }
        XCTAssertEqual(try decode(#"{"kind": "cosine"}"#), LearningRateSchedule(kind: .cosine, warmupEpochs: 0, minLR: 0))
        for (json, field) in [(#"{"kind": "linear"}"#, "linear"), (#"{"kind": "step", "gama": 0.1}"#, "gama")] {
            XCTAssertThrowsError(try decode(json), json) { error in
                XCTAssertTrue("\(error)".contains(field), "\(json): message \(error) does not name \(field)")
            }
        }
        let invalid: [(LearningRateSchedule, String)] = [
            (LearningRateSchedule(kind: .cosine, minLR: -1e-4), "min_lr"),
            (LearningRateSchedule(kind: .step, gamma: 0, milestones: [1]), "gamma"),
            (LearningRateSchedule(kind: .step, gamma: -0.5, milestones: [1]), "gamma"),
            (LearningRateSchedule(kind: .step, milestones: [3, 2]), "milestones"),
            (LearningRateSchedule(kind: .step, milestones: [2, 2]), "milestones"),
            (LearningRateSchedule(kind: .step, warmupEpochs: 2, milestones: [1]), "milestones"),
            (LearningRateSchedule(kind: .cosine, warmupEpochs: 10), "warmup_epochs"),
            (LearningRateSchedule(kind: .cosine, warmupEpochs: -1), "warmup_epochs"),
            (LearningRateSchedule(kind: .constant, warmupEpochs: 1), "warmup_epochs"),
            (LearningRateSchedule(kind: .cosine, warmupEpochs: 1, warmupStartFactor: 0), "warmup_start_factor"),
            (LearningRateSchedule(kind: .cosine, milestones: [1]), "milestones"),
        ]
        for (schedule, field) in invalid {
            XCTAssertThrowsError(try schedule.validate(totalEpochs: 10), "\(schedule) accepted") { error in
                XCTAssertTrue("\(error)".contains(field), "message \(error) does not name \(field)")
            }
        }
        XCTAssertNoThrow(try LearningRateSchedule(kind: .step, warmupEpochs: 1, milestones: [1, 4]).validate(totalEpochs: 10))
    }
}
