import XCTest
import CLIP
@testable import Continual
import Distributed
import Prompting

/// NSP2 through the trainer: over the second task the prompts move (almost) only in the null space of the
/// first task's statistics, which is the paper's consistency condition (Omega1 dP^T = 0 and Omega2 dP = 0,
/// as far as the chosen null space is exact), while the same run without projection does not; and the first
/// task's image embeddings barely change over the second task (DESIGN.md's test of NSP2).
final class NullSpaceTrainingTests: XCTestCase {
    /// A small random CLIP (16 px images, 8 px patches: 4 patches + CLS; vision 32 wide, 2 heads, 2 layers),
    /// 2 tasks of the synthetic shapes, VPT-NSP2 with orthogonal projectors (exact when eta = 1). The null space
    /// is Adam-NSCL's (s^2 within 10 x the smallest): on this random model the adaptive rule's elbow comes early
    /// and its null space holds directions up to 0.5-0.66 s_0, too loose a bound to tell the runs apart.
    private func config(eta: Double, overrides: [String] = []) throws -> TrainingConfig {
        try ConfigLoader.load(toml: """
            seed = 3
            [model.random]
            image_size = 16
            patch_size = 8
            vision_width = 32
            vision_layers = 2
            vision_heads = 2
            text_width = 16
            text_layers = 1
            text_heads = 2
            projection_dim = 16
            [data]
            samples = 192
            [tasks]
            count = 2
            epochs = 2
            [method]
            name = "vpt-nsp2"
            [method.vpt]
            tokens = 4
            initialization = "uniform-unit"
            [method.nsp2]
            eta1 = \(eta)
            eta2 = \(eta)
            scaling = "orthogonal"
            threshold = "adam-nscl"
            threshold_multiplier = 10
            [loss]
            kind = "text-classifier"
            [train]
            global_batch = 16
            [optimizer]
            lr = 0.05
            """, source: "nsp2-test.toml", overrides: overrides)
    }

    /// Keeps the prompts as they were at the end of the first task.
    private final class FirstTaskPrompts: TrainingObserver {
        var values: [Float] = []
        var nullSpaceEvents: [NullSpaceRecord] = []
        func taskStarted(_ start: TaskStart) throws {}
        func stepFinished(_ record: StepRecord) throws {}
        func taskFinished(_ end: TaskEnd, parameters: TrainableParameters, prompts: PromptSet?) throws {
            if end.task == 0 { values = Array(UnsafeBufferPointer(start: parameters.values.storage, count: parameters.count)) }
        }
        func nullSpaceUpdated(_ update: NullSpaceRecord, factors: [LayerNullSpaceFactors]) throws {
            nullSpaceEvents.append(update)
        }
        func taskKeysFitted(_ record: TaskKeysRecord, image: TaskKeys, text: TaskKeys) throws {
            XCTFail("vpt-nsp2 has no task keys")
        }
        func evaluationFinished(_ record: EvaluationRecord) throws {}
    }

    /// Per prompted layer: ||Omega1 dP^T||_F / (s_0 ||dP||_F) and the bound s_k / s_0 that the projection
    /// promises (s_k: the largest singular value inside the chosen null space), likewise for Omega2 and dP.
    private struct Consistency {
        var channel: Double, channelBound: Double, token: Double, tokenBound: Double
    }

    /// ||f_after - f_before||_F / ||f_before||_F over the first task's first 16 images, f their image
    /// embeddings with the prompts at the end of the first task (before) and of the run (after).
    private func firstTaskDrift(_ trainer: Trainer, firstTaskValues: [Float]) -> Double {
        let images = Array(trainer.split.indices(ofTask: 0, in: trainer.dataset).prefix(trainer.localBatch))
        let width = trainer.model.config.projectionDim, values = trainer.parameters.values
        func embeddings() -> [Double] {
            trainer.loader.loadPixels(images)
            let output = trainer.vision.forward(pixels: trainer.loader.pixels,
                                                prompts: trainer.method.visionPrompts(values), batch: images.count)
            return (0..<(images.count * width)).map { Double(output[$0]) }
        }
        let after = embeddings()
        let final = Array(UnsafeBufferPointer(start: values.storage, count: trainer.parameters.count))
        values.storage.update(from: firstTaskValues, count: firstTaskValues.count)
        let before = embeddings()
        values.storage.update(from: final, count: final.count)
        let change = zip(after, before).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return change / before.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
    }

    private func train(eta: Double) throws -> (layers: [Consistency], drift: Double) {
        let trainer = try Trainer(config: try config(eta: eta), group: .single)
        let observer = FirstTaskPrompts()
        trainer.observer = observer
        try trainer.run()
        XCTAssertEqual(observer.nullSpaceEvents.map(\.task), [0], "one null-space update, after the first of 2 tasks")
        let method = try XCTUnwrap(trainer.method as? NullSpacePromptTuning)
        XCTAssertEqual(method.factors.map(\.layer), [0, 1])
        let slices = method.slices(in: trainer.parameters.layout)
        let drift = firstTaskDrift(trainer, firstTaskValues: observer.values)
        let layers = zip(zip(method.factors, method.projectors), slices).map { pair, slice in
            let (factor, projectors) = pair
            let (l, d) = (slice.tokens, slice.width)
            let delta = (0..<slice.count).map {
                Double(trainer.parameters.values.storage[slice.offset + $0]) - Double(observer.values[slice.offset + $0])
            }
            let deltaNorm = delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
            // ||diag(s) V^T dP^T||_F = ||Omega1 dP^T||_F, since Omega1^T Omega1 = V diag(s^2) V^T.
            let channel = factor.channel, token = factor.token
            var channelSum = 0.0
            for (i, s) in channel.singularValues.enumerated() {
                for t in 0..<l {
                    var dot = 0.0
                    for j in 0..<d { dot += channel.rightSingularVectors[i * d + j] * delta[t * d + j] }
                    channelSum += s * s * dot * dot
                }
            }
            var tokenSum = 0.0
            for (i, s) in token.singularValues.enumerated() {
                for j in 0..<d {
                    var dot = 0.0
                    for t in 0..<l { dot += token.rightSingularVectors[i * l + t] * delta[t * d + j] }
                    tokenSum += s * s * dot * dot
                }
            }
            func bound(_ factor: NullSpaceFactor, _ start: Int) -> Double {
                start < factor.singularValues.count ? factor.singularValues[start] / factor.singularValues[0] : 0
            }
            return Consistency(channel: channelSum.squareRoot() / (channel.singularValues[0] * deltaNorm),
                               channelBound: bound(channel, projectors.channel.nullSpaceStart),
                               token: tokenSum.squareRoot() / (token.singularValues[0] * deltaNorm),
                               tokenBound: bound(token, projectors.token.nullSpaceStart))
        }
        return (layers, drift)
    }

    func testSecondTaskMovesThePromptsInTheFirstTasksNullSpace() throws {
        let (projected, projectedDrift) = try train(eta: 1)
        let (free, freeDrift) = try train(eta: 0)
        print(String(format: "first task's image embeddings after the second task: relative change %.3e with the "
                     + "projection, %.3e without", projectedDrift, freeDrift))
        XCTAssertGreaterThan(freeDrift, 10 * projectedDrift, "the first task's outputs move far less under NSP2")
        for (layer, (nsp2, plain)) in zip(projected, free).enumerated() {
            print(String(format: "layer %d: ||Omega1 dP^T|| / (s0 ||dP||) %.3e (bound %.3e), without projection %.3e; "
                         + "||Omega2 dP|| / (s0 ||dP||) %.3e (bound %.3e), without %.3e", layer, nsp2.channel,
                         nsp2.channelBound, plain.channel, nsp2.token, nsp2.tokenBound, plain.token))
            XCTAssertLessThanOrEqual(nsp2.channel, nsp2.channelBound + 1e-5, "layer \(layer): Omega1 consistency within the bound")
            XCTAssertLessThanOrEqual(nsp2.token, nsp2.tokenBound + 1e-5, "layer \(layer): Omega2 consistency within the bound")
            XCTAssertGreaterThan(plain.channel, 10 * nsp2.channel, "layer \(layer): without projection Omega1 dP^T is larger")
            XCTAssertGreaterThan(plain.token, 10 * nsp2.token, "layer \(layer): without projection Omega2 dP is larger")
        }
    }

    func testTooFewPromptTokensForTheAdaptiveRuleAreRefusedBeforeTraining() throws {
        let config = try config(eta: 1, overrides: ["method.nsp2.threshold=adaptive", "method.vpt.tokens=2"])
        XCTAssertThrowsError(try Trainer(config: config, group: .single)) { error in
            XCTAssertTrue("\(error)".contains("method.vpt.tokens") && "\(error)".contains("adaptive"),
                          "names the key and the rule: \(error)")
        }
        XCTAssertNoThrow(try Trainer(config: try self.config(eta: 1, overrides: ["method.vpt.tokens=2"])
                                     , group: .single), "adam-nscl takes 2 tokens")
    }
}
