import XCTest
import CLIP
@testable import Continual
import Distributed
import Numerics
import Prompting
import TestSupport

/// LPI-P's training step as the trainer runs it (`CoupledStep` over `LowRankPromptFusion`'s towers and its trainable
/// buffer): the contrastive step against torch's lock-step of every pair's two whole towers (the `pairs` case of
/// Tests/Fixtures/make_lpip_fixtures.py: loss and every factor's gradient), and `Trainer.localGradients` for lpi-p
/// against central differences of its own loss, with both objectives and both fusion normalisations (the class texts
/// and the gathered captions in several chunks of the local batch, so the recomputed backward is the one checked).
final class CoupledStepTests: XCTestCase {
    private let folder = fixturesDirectory.appendingPathComponent("lpi/lock-step")

    /// The fixture's tensors and the names the method gives them.
    private let names = [("d1", "lpi.task0.d1"), ("vision.d2", "lpi.task0.vision.d2"), ("vision.d3", "lpi.task0.vision.d3"),
                         ("text.d2", "lpi.task0.text.d2"), ("text.d3", "lpi.task0.text.d3"),
                         ("cpf.vision.a", "cpf.task0.vision.d1"), ("cpf.vision.b", "cpf.task0.vision.d2"),
                         ("cpf.vision.c", "cpf.task0.vision.d3"), ("cpf.text.a", "cpf.task0.text.d1"),
                         ("cpf.text.b", "cpf.task0.text.d2"), ("cpf.text.c", "cpf.task0.text.d3")]

    func testContrastiveStepMatchesTorchsLockStepOfEveryPair() throws {
        let model = try CLIPModel.load(directory: folder)
        let file = try SafetensorsFile(contentsOf: folder.appendingPathComponent("lock-step.safetensors"))
        let n = try XCTUnwrap(file.info("pairs.pixel_values")).shape[0], e = model.config.projectionDim
        let context = model.config.text.contextLength
        var settings = LPISettings()
        settings.depth = Int(try file.floats("pairs.depth")[0])
        settings.tokens = try XCTUnwrap(file.info("pairs.vision.d2")).shape[0]
        settings.rank = try XCTUnwrap(file.info("pairs.d1")).shape[1]
        settings.fusionMomentum = try file.floats("pairs.momentum")[0]
        let method = try LowRankPromptFusion(name: "lpi-p", model: model.config, taskCount: 1, settings: settings,
                                             taskNameSimilarity: [1])
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let values = ParameterBuffer(layout: layout), gradients = ParameterBuffer(layout: layout)
        for (fixture, name) in names {
            let tensor = try file.floats("pairs.\(fixture)")
            XCTAssertEqual(tensor.count, layout.entry(name)?.count, "\(name): the fixture's shape")
            values[name].update(from: tensor, count: tensor.count)
        }
        let ids = try file.floats("pairs.input_ids").map { Int32($0) }
        let pixels = try file.floats("pairs.pixel_values")
        XCTAssertEqual(ids.count, n * context, "one caption per image")
        let towers = try method.makeCoupledTowers(model: model, startOfText: ids[0], capacity: n)
        let step = CoupledStep(towers: towers, width: e, contrastive: ConditionedContrastiveObjective(capacity: n, width: e),
                               captions: n, classes: 0)
        for weight: Float in [1, 0.8] {
            gradients.zero()
            let loss = pixels.withUnsafeBufferPointer { p in
                ids.withUnsafeBufferPointer { i in
                    step.contrastive(pixels: p.baseAddress!, tasks: [Int](repeating: 0, count: n), ids: i.baseAddress!,
                                     captions: n, context: context, values: values, gradients: gradients, weight: weight,
                                     logScale: model.logitScale)
                }
            }
            let expected = weight * (try file.floats("pairs.loss")[0])
            XCTAssertEqual(loss, expected, accuracy: 1e-4 * expected, "weight \(weight): the loss of all \(n * n) pairs")
            for (fixture, name) in names {
                let reference = try file.floats("pairs.d_\(fixture)").map { weight * $0 }
                let error = relativeError(gradients.values(name), reference)
                print("lpi-p step, weight \(weight): d\(name) relative error \(error)")
                XCTAssertLessThan(error, 1e-3, "weight \(weight): d\(name) against torch")
            }
        }
    }

    // MARK: Through the trainer

    /// A tiny random CLIP (vision 32 wide, text 16 wide, 2 layers each), 2 tasks of 24 synthetic classes, a global
    /// batch of 8 on one rank, so that 24 class texts make 3 chunks; fusion momentum 0.7.
    private func trainer(_ overrides: [String]) throws -> Trainer {
        let config = try ConfigLoader.load(toml: """
            seed = 7
            [model.random]
            image_size = 16
            patch_size = 8
            vision_width = 32
            vision_layers = 2
            vision_heads = 2
            text_width = 16
            text_layers = 2
            text_heads = 2
            projection_dim = 16
            [data]
            samples = 192
            [tasks]
            count = 2
            epochs = 1
            [method]
            name = "lpi-p"
            [method.lpi]
            depth = 2
            tokens = 2
            rank = 2
            fusion_momentum = 0.7
            [method.task_identity]
            centroids = 2
            [evaluation]
            kind = "none"
            [train]
            global_batch = 8
            [optimizer]
            lr = 0.05
            """, source: "coupled-step-test.toml", overrides: overrides)
        return try Trainer(config: config, group: ProcessGroup.world)
    }

    /// The derivative at 0 of `f` by the six-point central stencil.
    private func sixPointDerivative(step h: Double, _ f: (Double) -> Double) -> Double {
        let d1 = f(h) - f(-h), d2 = f(2 * h) - f(-2 * h), d3 = f(3 * h) - f(-3 * h)
        return (45 * d1 - 9 * d2 + d3) / (60 * h)
    }

    /// The step's gradient g of each of `tensors` of task `task` against central differences of the step's loss along
    /// g and along two random directions u: |D_u L - g . u| < 2e-3 ||g||. The loss is the step's own (Float towers),
    /// so the check is on directional derivatives, where the whole of g is the signal; its rounding shows in them as
    /// about 1e-6, which leaves out the vision map's factors here (gradients of 1e-5 to 1e-4 on this random model: a
    /// vision prompt row moves its image embedding little), checked against torch in
    /// `testContrastiveStepMatchesTorchsLockStepOfEveryPair` through the same step.
    private func assertGradients(_ trainer: Trainer, task: Int, tensors: [String], step h: Double = 2e-2,
                                 tolerance: Double = 2e-3, file: StaticString = #filePath, line: UInt = #line) throws {
        let classes = trainer.classesInPlay(task: task)
        try trainer.beginClassifier(task: task, classes: classes)
        let local = Array(trainer.split.indices(ofTask: task, in: trainer.dataset).prefix(trainer.localBatch))
        let values = trainer.parameters.values
        func loss() -> Double {
            Double((try? trainer.localGradients(task: task, local: local, globalCount: local.count, classes: classes).objective) ?? .nan)
        }
        _ = loss()
        let analytic = tensors.map { trainer.parameters.gradients.values($0) }
        for (k, (name, gradient)) in zip(tensors, analytic).enumerated() {
            let original = values.values(name)
            let g = gradient.map(Double.init)
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertGreaterThan(norm, 1e-4, "\(name): the step gives a gradient", file: file, line: line)
            func unit(_ v: [Double]) -> [Double] {
                let length = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / length }
            }
            for (label, u) in [("along g", unit(g)),
                               ("random 1", unit(randomNormal(g.count, seed: 90 + UInt64(k)).map(Double.init))),
                               ("random 2", unit(randomNormal(g.count, seed: 95 + UInt64(k)).map(Double.init)))] {
                let numerical = sixPointDerivative(step: h) { t in
                    values[name].update(from: (0..<original.count).map { original[$0] + Float(t * u[$0]) },
                                        count: original.count)
                    return loss()
                }
                values[name].update(from: original, count: original.count)
                let expected = zip(g, u).reduce(0) { $0 + $1.0 * $1.1 }
                let error = abs(numerical - expected) / norm
                print("lpi-p \(trainer.config.loss.kind.rawValue) \(name), derivative \(label): \(numerical) against g . u "
                      + "\(expected), error \(error) of ||g|| = \(norm)")
                XCTAssertLessThan(error, tolerance, "\(name): derivative \(label) off g . u by \(error) of ||g||",
                                  file: file, line: line)
            }
        }
    }

    /// Task 1's LPI factors (D1 shared by the towers, the text factors that stage A's prefix and stage B both read) and
    /// both fusion maps' factors, through the contrastive loss over the 8 x 8 pairs. (One rank holds every caption
    /// here, one chunk; the chunks of a rank's share of the captions are MethodTrainingTests' 2-rank run.)
    func testContrastiveGradientMatchesFiniteDifferences() throws {
        let trainer = try trainer(["loss.kind=contrastive"])
        try assertGradients(trainer, task: 1, tensors: ["lpi.task1.d1", "lpi.task1.vision.d3", "lpi.task1.text.d3",
                                                        "cpf.task1.text.d1", "cpf.task1.text.d2", "cpf.task1.text.d3"])
    }

    /// The text classifier: 24 class texts conditioned on each of the 8 images, in 3 chunks.
    func testTextClassifierGradientMatchesFiniteDifferences() throws {
        let trainer = try trainer(["loss.kind=text-classifier"])
        try assertGradients(trainer, task: 0, tensors: ["lpi.task0.d1", "lpi.task0.vision.d3", "lpi.task0.text.d2",
                                                        "cpf.task0.text.d1", "cpf.task0.text.d3"])
    }

    /// The grounding code's LayerNorm on the mix: its weights and biases, and the text map behind it. The vision
    /// LayerNorm's gradient is about 6e-3 here, so the loss's rounding (about 1e-5 in a difference quotient at steps of
    /// 5e-2) is 2e-3 of it: checked to 4e-3 (a missing term or a wrong sign is off by the size of g).
    func testLayerNormFusionGradientMatchesFiniteDifferences() throws {
        let trainer = try trainer(["loss.kind=text-classifier", "method.lpi.fusion_normalization=layer_norm"])
        try assertGradients(trainer, task: 0, tensors: ["cpf.task0.vision.norm.weight", "cpf.task0.vision.norm.bias",
                                                        "cpf.task0.text.norm.weight", "cpf.task0.text.norm.bias",
                                                        "cpf.task0.text.d2"], step: 5e-2, tolerance: 4e-3)
    }

    /// lpi-p's base objective is weighed by lambda_1 like lpi-m's, and HPA and CPA are lpi-m's (added once per step,
    /// after the all-reduce): the same value and gradient on LPI-M's tensors, which start as lpi-m's with the same seed.
    func testAlignmentLossesAreLPIMs() throws {
        let lpip = try trainer(["loss.kind=text-classifier"])
        let lpim = try trainer(["loss.kind=text-classifier", "method.name=lpi-m"])
        for task in [0, 1] {
            lpip.parameters.gradients.zero()
            lpim.parameters.gradients.zero()
            let a = lpip.method.addPromptLoss(values: lpip.parameters.values, gradients: lpip.parameters.gradients, task: task)
            let b = lpim.method.addPromptLoss(values: lpim.parameters.values, gradients: lpim.parameters.gradients, task: task)
            XCTAssertGreaterThan(b, 0, "task \(task): HPA and CPA contribute")
            XCTAssertEqual(a, b, "task \(task): lpi-p's HPA + CPA are lpi-m's on the same prompts")
            XCTAssertEqual(lpip.parameters.gradients.values("lpi.task\(task).text.d3"),
                           lpim.parameters.gradients.values("lpi.task\(task).text.d3"), "task \(task): the same gradient")
            XCTAssertEqual(Set(lpip.parameters.gradients.values("cpf.task\(task).vision.d2")), [0],
                           "task \(task): no alignment loss on the fusion maps")
        }
        XCTAssertEqual(lpip.method.objectiveWeight, 0.8, "lambda_1")
    }
}
