import Foundation
import Numerics
import TestSupport
import XCTest

/// `Optimizer` and `GradientClipping` against torch.optim.Adam / AdamW / SGD and torch.nn.utils.clip_grad_norm_
/// (Tests/Fixtures/make_optimizer_fixtures.py: 257 parameters, 5 steps, a fresh gradient and lr each step).
///
/// Tolerance: the same Float32 operations as torch's single-tensor loop with the scalars formed as torch forms them
/// (Double, rounded once), but dP is formed and then added where torch fuses `addcdiv` (and AdamW's decay), and the
/// lr is a Float here, a double there. Each step may therefore round p + dP half an ulp of its operands differently,
/// and the update itself may be an ulp off. So each parameter must stay within 4 ulp of the largest magnitude torch's
/// copy of it has had so far (the operands' scale: SGD's large gradients can cancel a parameter to near zero, where
/// its own ulp says nothing); an Adam update of ~1e-3 on parameters of ~2 is ~4000 such ulp, so this is ~1e-3 of an
/// update. The moments must be within 1e-6 relative.
/// A wrong bias correction, eps inside the sqrt, a missed or Float32 beta (1 - 0.999 in Float32 is off by 1.3e-5)
/// or a decay term off by one rounding of 1 - lr * wd breaks these.
final class OptimizerTests: XCTestCase {
    func testEveryKindMatchesTorchForFiveSteps() throws {
        let fixtures = try OptimizerFixtures.load()
        XCTAssertEqual(Set(fixtures.optimizers.map(\.name)),
                       ["adam", "adam_l2", "adamw", "sgd_momentum", "sgd_nesterov"], "fixture cases")
        for testCase in fixtures.optimizers {
            let params0 = try fixtures.tensor("\(testCase.name).params0")
            let parameters = OwnedFloats(params0)
            let optimizer = Optimizer(config: testCase.config, parameterCount: parameters.count)
            var worst: Float = 0
            var scale = params0.map(abs)
            for k in 1...testCase.steps {
                let gradients = try fixtures.tensor("\(testCase.name).grad\(k)")
                optimizer.step(parameters: parameters.pointer, gradients: gradients, lr: testCase.lrs[k - 1])
                let expected = try fixtures.tensor("\(testCase.name).params\(k)")
                scale = zip(scale, expected).map { max($0, abs($1)) }
                let ulps = maxUlps(parameters.values, expected, scale: scale)
                worst = max(worst, ulps)
                XCTAssertLessThanOrEqual(ulps, 4, "\(testCase.name) step \(k): parameters \(ulps) ulp off torch's")
            }
            XCTAssertEqual(optimizer.stepCount, testCase.steps, "\(testCase.name): step count")
            let state = optimizer.state
            switch testCase.config.kind {
            case .adam, .adamw:
                let m = relativeError(state.firstMoment, try fixtures.tensor("\(testCase.name).exp_avg"))
                let v = relativeError(state.secondMoment, try fixtures.tensor("\(testCase.name).exp_avg_sq"))
                XCTAssertLessThan(m, 1e-6, "\(testCase.name): exp_avg off torch by \(m)")
                XCTAssertLessThan(v, 1e-6, "\(testCase.name): exp_avg_sq off torch by \(v)")
                print("\(testCase.name): parameters \(worst) ulp, exp_avg \(m), exp_avg_sq \(v) (max relative errors)")
            case .sgd:
                let buffer = relativeError(state.firstMoment, try fixtures.tensor("\(testCase.name).momentum_buffer"))
                XCTAssertLessThan(buffer, 1e-6, "\(testCase.name): momentum_buffer off torch by \(buffer)")
                XCTAssertTrue(state.secondMoment.isEmpty, "\(testCase.name): SGD keeps no second moment")
                print("\(testCase.name): parameters \(worst) ulp, momentum_buffer \(buffer) (max relative error)")
            }
        }
    }

    /// The update handed to `transformUpdate` is what torch adds (AdamW: decoupled decay included), and
    /// leaving it alone gives the same result as passing no transform.
    func testTransformReceivesTheUpdateTorchApplies() throws {
        let fixtures = try OptimizerFixtures.load()
        let testCase = try XCTUnwrap(fixtures.optimizers.first { $0.name == "adamw" })
        var torchBefore = try fixtures.tensor("adamw.params0")
        let withTransform = OwnedFloats(torchBefore), without = OwnedFloats(torchBefore)
        let optimizer = Optimizer(config: testCase.config, parameterCount: withTransform.count)
        let plain = Optimizer(config: testCase.config, parameterCount: without.count)
        for k in 1...testCase.steps {
            let gradients = try fixtures.tensor("adamw.grad\(k)")
            var seen: [Float] = []
            optimizer.step(parameters: withTransform.pointer, gradients: gradients, lr: testCase.lrs[k - 1]) { update, count in
                seen = Array(UnsafeBufferPointer(start: update, count: count))
            }
            plain.step(parameters: without.pointer, gradients: gradients, lr: testCase.lrs[k - 1])
            let torchAfter = try fixtures.tensor("adamw.params\(k)")
            // torch's update is only known to the ulp of the parameters (torchAfter - torchBefore), and the runs
            // differ by a few ulp (see the type's comment): off by more would be a wrong update.
            for i in 0..<seen.count {
                let torchUpdate = torchAfter[i] - torchBefore[i]
                XCTAssertLessThanOrEqual(abs(seen[i] - torchUpdate), 8 * torchAfter[i].ulp,
                                         "step \(k) entry \(i): update \(seen[i]), torch's \(torchUpdate)")
            }
            XCTAssertEqual(withTransform.values, without.values, "step \(k): an identity transform changed the result")
            torchBefore = torchAfter
        }
    }

    /// A transform that zeroes the even entries leaves those parameters exactly unchanged while the moments
    /// still take the raw gradient: the next step equals the unmasked optimiser's update added to the masked
    /// parameters, and an independent Double Adam agrees.
    func testZeroedUpdatesKeepParametersWhileMomentsAdvance() throws {
        let count = 301
        let config = OptimizerConfig(kind: .adam, lr: 1e-2)
        let start = randomNormal(count, seed: 11)
        let gradients1 = randomNormal(count, seed: 12), gradients2 = randomNormal(count, seed: 13)
        let masked = OwnedFloats(start), unmasked = OwnedFloats(start)
        let maskedOptimizer = Optimizer(config: config, parameterCount: count)
        let unmaskedOptimizer = Optimizer(config: config, parameterCount: count)

        maskedOptimizer.step(parameters: masked.pointer, gradients: gradients1, lr: 1e-2) { update, count in
            for i in stride(from: 0, to: count, by: 2) { update[i] = 0 }
        }
        unmaskedOptimizer.step(parameters: unmasked.pointer, gradients: gradients1, lr: 1e-2)
        let afterMasked = masked.values
        for i in 0..<count {
            if i % 2 == 0 {
                XCTAssertEqual(afterMasked[i].bitPattern, start[i].bitPattern, "entry \(i): zeroed update moved it")
            } else {
                XCTAssertNotEqual(afterMasked[i], start[i], "entry \(i): kept update did not move it")
            }
        }
        XCTAssertEqual(maskedOptimizer.state, unmaskedOptimizer.state, "the moments must not see the transform")

        var secondUpdate: [Float] = []
        unmaskedOptimizer.step(parameters: unmasked.pointer, gradients: gradients2, lr: 1e-2) { update, count in
            secondUpdate = Array(UnsafeBufferPointer(start: update, count: count))
        }
        maskedOptimizer.step(parameters: masked.pointer, gradients: gradients2, lr: 1e-2)
        XCTAssertEqual(masked.values, zip(afterMasked, secondUpdate).map { $0 + $1 },
                       "second step of the masked run is not its parameters plus the unmasked update")

        // Independent reference: Adam in Double, update masked on step 1 only.
        var p = start.map(Double.init), m = [Double](repeating: 0, count: count), v = m
        for (t, gradients) in [gradients1, gradients2].enumerated() {
            for i in 0..<count {
                let g = Double(gradients[i])
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let mHat = m[i] / (1 - pow(0.9, Double(t + 1))), vHat = v[i] / (1 - pow(0.999, Double(t + 1)))
                if t == 1 || i % 2 == 1 { p[i] -= 1e-2 * mHat / (vHat.squareRoot() + 1e-8) }
            }
        }
        let error = movementError(masked.values, p.map(Float.init), start: start)
        XCTAssertLessThan(error, 1e-5, "masked run off the Double reference by \(error) of the movement")
    }

    /// Saving the state after 3 steps (through JSON, as a checkpoint does) and restoring it into a new optimiser
    /// continues bit for bit, for every kind.
    func testStateRestoreContinuesBitwise() throws {
        let count = 129
        let configs = [OptimizerConfig(kind: .adam, lr: 1e-3, weightDecay: 0.01),
                       OptimizerConfig(kind: .adamw, lr: 1e-3, weightDecay: 0.1),
                       OptimizerConfig(kind: .sgd, lr: 0.1, weightDecay: 1e-4, momentum: 0.9, nesterov: true),
                       OptimizerConfig(kind: .sgd, lr: 0.1, momentum: 0)]
        for config in configs {
            let gradients = (0..<5).map { randomNormal(count, seed: 20 + UInt64($0)) }
            let straight = OwnedFloats(randomNormal(count, seed: 19))
            let optimizer = Optimizer(config: config, parameterCount: count)
            for k in 0..<3 { optimizer.step(parameters: straight.pointer, gradients: gradients[k], lr: 1e-3) }
            let saved = try JSONDecoder().decode(OptimizerState.self, from: JSONEncoder().encode(optimizer.state))
            XCTAssertEqual(saved, optimizer.state, "\(config.kind): state changed through JSON")
            let resumed = OwnedFloats(straight.values)
            let restored = Optimizer(config: config, parameterCount: count)
            try restored.restore(saved)
            XCTAssertEqual(restored.stepCount, 3, "\(config.kind): restored step count")
            for k in 3..<5 {
                optimizer.step(parameters: straight.pointer, gradients: gradients[k], lr: 1e-3)
                restored.step(parameters: resumed.pointer, gradients: gradients[k], lr: 1e-3)
            }
            XCTAssertEqual(resumed.values.map(\.bitPattern), straight.values.map(\.bitPattern),
                           "\(config.kind) momentum \(config.momentum): resumed run differs from the straight one")
            XCTAssertEqual(restored.state, optimizer.state, "\(config.kind): moments differ after resuming")
        }
    }

    /// Decay on some ranges only is torch's two parameter groups ({weight_decay: wd}, {weight_decay: 0}): bit for
    /// bit what one optimiser with the decay and one without give on those pieces, for every kind.
    func testDecayedRangesActAsTwoParameterGroups() throws {
        let count = 100
        let decayed = [10..<30, 30..<35, 50..<60]
        let pieces: [(range: Range<Int>, decays: Bool)] = [(0..<10, false), (10..<35, true), (35..<50, false),
                                                           (50..<60, true), (60..<100, false)]
        for config in [OptimizerConfig(kind: .adam, lr: 1e-2, weightDecay: 0.5),
                       OptimizerConfig(kind: .adamw, lr: 1e-2, weightDecay: 0.5),
                       OptimizerConfig(kind: .sgd, lr: 0.1, weightDecay: 0.5, momentum: 0.9)] {
            let gradients = (0..<3).map { randomNormal(count, seed: 40 + UInt64($0)) }
            let grouped = OwnedFloats(randomNormal(count, seed: 39))
            let separate = OwnedFloats(grouped.values)
            let optimizer = Optimizer(config: config, parameterCount: count, decayedRanges: decayed)
            var undecayedConfig = config
            undecayedConfig.weightDecay = 0
            let pieceOptimizers = pieces.map {
                Optimizer(config: $0.decays ? config : undecayedConfig, parameterCount: $0.range.count)
            }
            for k in 0..<3 {
                optimizer.step(parameters: grouped.pointer, gradients: gradients[k], lr: 1e-2)
                for (piece, pieceOptimizer) in zip(pieces, pieceOptimizers) {
                    gradients[k].withUnsafeBufferPointer {
                        pieceOptimizer.step(parameters: separate.pointer + piece.range.lowerBound,
                                            gradients: $0.baseAddress! + piece.range.lowerBound, lr: 1e-2)
                    }
                }
            }
            XCTAssertEqual(grouped.values.map(\.bitPattern), separate.values.map(\.bitPattern),
                           "\(config.kind): decayed ranges differ from separate parameter groups")
            let everywhere = OwnedFloats(randomNormal(count, seed: 39)), implicit = OwnedFloats(randomNormal(count, seed: 39))
            let all = Optimizer(config: config, parameterCount: count, decayedRanges: [0..<count])
            let plain = Optimizer(config: config, parameterCount: count)
            for k in 0..<3 {
                all.step(parameters: everywhere.pointer, gradients: gradients[k], lr: 1e-2)
                plain.step(parameters: implicit.pointer, gradients: gradients[k], lr: 1e-2)
            }
            XCTAssertEqual(everywhere.values.map(\.bitPattern), implicit.values.map(\.bitPattern),
                           "\(config.kind): decay over the whole buffer is the default")
            XCTAssertGreaterThan(relativeError(grouped.values, implicit.values), 1e-4,
                                 "\(config.kind): where the decay applies must matter in this test")
        }
    }

    func testRestoreRejectsStateThatDoesNotFit() throws {
        let optimizer = Optimizer(config: OptimizerConfig(kind: .adam, lr: 1e-3), parameterCount: 4)
        let ones = [Float](repeating: 1, count: 4)
        XCTAssertThrowsError(try optimizer.restore(OptimizerState(kind: .adam, stepCount: 2, firstMoment: ones,
                                                                 secondMoment: [1, 1, 1]))) { error in
            XCTAssertTrue("\(error)".contains("needs 4 and 4"), "message: \(error)")
        }
        XCTAssertThrowsError(try optimizer.restore(OptimizerState(kind: .sgd, stepCount: 2, firstMoment: ones,
                                                                 secondMoment: []))) { error in
            XCTAssertTrue("\(error)".contains("kind sgd"), "message: \(error)")
        }
        XCTAssertEqual(optimizer.state, OptimizerState(kind: .adam, stepCount: 0, firstMoment: [0, 0, 0, 0],
                                                       secondMoment: [0, 0, 0, 0]), "a failed restore changed the state")
    }

    func testConfigDecodesDefaultsAndRejectsBadValues() throws {
        func decode(_ json: String) throws -> OptimizerConfig {
            try JSONDecoder().decode(OptimizerConfig.self, from: Data(json.utf8))
        }
        XCTAssertEqual(try decode(#"{"lr": 0.001}"#), OptimizerConfig(kind: .adam, lr: 1e-3, beta1: 0.9, beta2: 0.999,
                                                                     eps: 1e-8, weightDecay: 0, momentum: 0.9))
        for (json, field) in [(#"{"lr": 0.1, "wieghtDecay": 0.1}"#, "wieghtDecay"),
                              (#"{"lr": -0.1}"#, "lr"), (#"{"lr": 0.1, "beta2": 1}"#, "beta2"),
                              (#"{"lr": 0.1, "weight_decay": -1}"#, "weight_decay"),
                              (#"{"kind": "sgd", "lr": 0.1, "momentum": 0, "nesterov": true}"#, "nesterov")] {
            XCTAssertThrowsError(try decode(json), json) { error in
                XCTAssertTrue("\(error)".contains(field), "\(json): message \(error) does not name \(field)")
            }
        }
        XCTAssertThrowsError(try decode(#"{"kind": "lamb", "lr": 0.1}"#), "unknown optimizer kind accepted")
    }

    func testClippingMatchesTorch() throws {
        let fixtures = try OptimizerFixtures.load()
        for testCase in fixtures.clipping {
            let before = try fixtures.tensor("clip.\(testCase.name).before")
            let expected = try fixtures.tensor("clip.\(testCase.name).after")
            let gradients = OwnedFloats(before)
            let norm = GradientClipping.clipGlobalNorm(gradients.pointer, count: gradients.count, maxNorm: testCase.maxNorm)
            let normError = abs(norm - testCase.norm) / testCase.norm
            let error = relativeError(gradients.values, expected)
            XCTAssertLessThan(normError, 1e-6, "\(testCase.name): norm \(norm), torch \(testCase.norm)")
            XCTAssertLessThan(error, 1e-6, "\(testCase.name): clipped gradients off torch by \(error)")
            print("clip \(testCase.name): norm error \(normError), gradient error \(error)")
            if testCase.norm <= testCase.maxNorm {
                XCTAssertEqual(gradients.values, before, "\(testCase.name): a norm under maxNorm changed the gradients")
            } else {
                let clipped = gradients.values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                XCTAssertEqual(clipped, Double(testCase.maxNorm), accuracy: 1e-5, "\(testCase.name): norm after clipping")
            }
        }
    }

    /// `max_i |actual_i - expected_i| / ulp(scale_i)`.
    private func maxUlps(_ actual: [Float], _ expected: [Float], scale: [Float]) -> Float {
        (0..<actual.count).map { abs(actual[$0] - expected[$0]) / scale[$0].ulp }.max() ?? 0
    }

    /// `max |actual - expected| / max |expected - start|`: the error in units of how far the parameters moved.
    private func movementError(_ actual: [Float], _ expected: [Float], start: [Float]) -> Float {
        relativeError(zip(actual, start).map { $0 - $1 }, zip(expected, start).map { $0 - $1 })
    }
}
