import Foundation
import XCTest
import CLIP
@testable import Continual
import Distributed
import Numerics
import TestSupport

/// The pieces of `promptcl pretrain` in one process: its config (strict keys, the checked-in
/// configs/pretrain-tiny.toml), which weights decay, the held-out scores on features whose answers are known,
/// and the step (a fixed batch is fitted; the logit scale is learned and clamped, or left alone).
/// The run on 2 ranks against 1 is PromptCLTests.PretrainCommandTests.
final class PretrainingTests: XCTestCase {
    private let tinyConfig = """
        seed = 2
        [model.random]
        image_size = 16
        patch_size = 8
        vision_width = 32
        vision_layers = 2
        vision_heads = 2
        text_width = 32
        text_layers = 1
        text_heads = 2
        projection_dim = 16
        context_length = 16
        [data]
        samples = 96
        held_out = 48
        [train]
        epochs = 1
        global_batch = 16
        """

    private func config(_ overrides: [String] = []) throws -> PretrainConfig {
        try ConfigLoader.load(PretrainConfig.self, toml: tinyConfig, source: "pretrain-test.toml", overrides: overrides)
    }

    func testTheCheckedInConfigLoadsAndBadKeysAreRefusedByName() throws {
        let url = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs/pretrain-tiny.toml")
        let tiny = try ConfigLoader.load(PretrainConfig.self, file: url)
        XCTAssertEqual(tiny.optimizer.kind, .adamw, "pretrain-tiny trains with AdamW")
        XCTAssertEqual(tiny.schedule.kind, .cosine, "warm-up then cosine")
        XCTAssertGreaterThan(tiny.optimizer.weightDecay, 0, "with weight decay")

        let loaded = try config(["train.learn_logit_scale=false"])
        XCTAssertFalse(loaded.train.learnLogitScale, "--set reaches [train]")
        XCTAssertEqual(loaded.model.random.contextLength, 16, "[model.random] is read")
        let written = try ConfigLoader.toml(loaded)
        XCTAssertEqual(try ConfigLoader.load(PretrainConfig.self, toml: written, source: "written"), loaded,
                       "the written config reads back to the same config")

        let cases: [(overrides: [String], expected: String)] = [
            (["train.epoch=3"], "unknown key train.epoch"),
            (["model.path=\"x\""], "unknown key model.path"),
            (["data.dataset=\"coco\""], "unknown key data.dataset"),
            (["data.held_out=0"], "data.held_out must be > 0"),
            (["train.global_batch=1"], "train.global_batch must be > 1"),
            (["model.random.vision_heads=3"], "model.random.vision_width 32 does not divide into vision_heads 3"),
            (["schedule.warmup_epochs=2"], "warmup_epochs 2.0 is not shorter than training (1.0 epochs)"),
        ]
        for bad in cases {
            XCTAssertThrowsError(try config(bad.overrides), "\(bad.overrides)") { error in
                XCTAssertTrue("\(error)".contains(bad.expected), "\(bad.overrides): \(error)")
            }
        }
    }

    /// Decay on the weight matrices of attention, MLP, patch convolution and projections; not on biases,
    /// LayerNorms, embeddings or the logit scale.
    func testOnlyWeightMatricesDecay() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let config = try config().model.random.clipConfig(vocabularySize: tokenizer.vocabularySize,
                                                           startOfText: Int(tokenizer.startOfText),
                                                           endOfText: Int(tokenizer.endOfText))
        let layout = ParameterLayout.clip(config)
        let ranges = Pretrainer.decayedRanges(layout)
        var decayed: Set<String> = []
        for entry in layout.entries {
            let inside = ranges.filter { $0.contains(entry.offset) }
            if let range = inside.first {
                XCTAssertTrue(range.contains(entry.offset + entry.count - 1), "\(entry.name) lies whole in one range")
                decayed.insert(entry.name)
            }
        }
        var expected: Set<String> = ["vision_model.embeddings.patch_embedding.weight", "visual_projection.weight",
                                     "text_projection.weight"]
        for (tower, layers) in [("vision_model", 2), ("text_model", 1)] {
            for i in 0..<layers {
                for name in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                             "mlp.fc1", "mlp.fc2"] {
                    expected.insert("\(tower).encoder.layers.\(i).\(name).weight")
                }
            }
        }
        XCTAssertEqual(decayed, expected, "the decayed tensors")
        for (a, b) in zip(ranges, ranges.dropFirst()) {
            XCTAssertLessThan(a.upperBound, b.lowerBound, "ranges are increasing, disjoint and merged")
        }
    }

    func testScoresOfKnownFeatures() {
        // Four pairs in 3 dimensions; pairs 0 and 1 state the same thing (description 7). Texts 0 and 1 point at
        // image 1, text 3 at image 2 (pair 2's), and image 3 lies between images 0 and 1.
        let images: [Float] = [1, 0, 0,  0, 1, 0,  0, 0, 1,  0.6, 0.8, 0]
        let texts: [Float] = [0, 1, 0,  0, 1, 0,  0, 0, 1,  0, 0, 1]
        let classes: [Float] = [1, 0, 0,  0, 1, 0,  0, 0, 1]
        let retrieval = PretrainEvaluation.retrieval(images: images, texts: texts, count: 4, width: 3,
                                                     descriptions: [7, 7, 8, 9])
        // Zero-shot: image 3 (0.6, 0.8, 0) is closest to class 1: all four right; with pair 3 labelled 0, three.
        XCTAssertEqual(PretrainEvaluation.zeroShotAccuracy(images: images, classTexts: classes, count: 4, classCount: 3,
                                                           width: 3, labels: [0, 1, 2, 1]), 100, "zero-shot")
        XCTAssertEqual(PretrainEvaluation.zeroShotAccuracy(images: images, classTexts: classes, count: 4, classCount: 3,
                                                           width: 3, labels: [0, 1, 2, 0]), 75, "zero-shot, one wrong")
        // Two texts per class (rows 0-1 class 0, 2-3 class 1): image 1 (0, 1, 0) is nearest row 3, class 1;
        // image 2 (0, 0, 1) row 1, class 0; image 3 row 3 (0.8), class 1; image 0 row 0, class 0.
        let twoPerClass: [Float] = [1, 0, 0,  0, 0, 1,  0, 0.5, 0,  0, 1, 0]
        XCTAssertEqual(PretrainEvaluation.zeroShotAccuracy(images: images, classTexts: twoPerClass, count: 4,
                                                           classCount: 2, textsPerClass: 2, width: 3,
                                                           labels: [0, 1, 1, 1]), 75, "zero-shot, nearest of a class's texts")
        // image -> text: image 0 is orthogonal to every text, the tie goes to text 0 (description 7: a hit);
        // 1 -> text 0 (tie with text 1) hit; 2 -> text 2 hit; 3 -> text 0 (0.8): description 7 against 9, a miss.
        XCTAssertEqual(retrieval.imageToTextR1, 75, "image -> text")
        // text -> image: text 0 -> image 1 (hit), text 1 -> image 1 (hit), text 2 -> image 2 (hit),
        // text 3 -> image 2 (description 8 against 9: miss).
        XCTAssertEqual(retrieval.textToImageR1, 75, "text -> image")
        // Chance: pairs 0 and 1 have 2 of 4 with their description, pairs 2 and 3 one each: (2 + 2 + 1 + 1) / 16.
        XCTAssertEqual(retrieval.chanceR1, 100 * 6 / 16, accuracy: 1e-12, "chance R@1")
    }

    /// The nearest-caption classifier asks with every caption a sample of the class can have.
    func testClassWordingsCoverEverySamplesCaption() throws {
        let shapes = try SyntheticShapes(count: 480, imageSize: 16, seed: 3)
        for c in [0, 17, 47] {
            XCTAssertEqual(Set(SyntheticShapes.captions(ofClass: c)).count, 54, "class \(c): 2 sizes x 9 placements x 3")
        }
        for index in 0..<shapes.count {
            XCTAssertTrue(SyntheticShapes.captions(ofClass: shapes.label(at: index)).contains(shapes.caption(at: index)),
                          "sample \(index): \(shapes.caption(at: index))")
        }
    }

    /// Steps on one fixed batch fit it; a learned logit scale moves and stays clamped at ln 100; an unlearned
    /// one does not move.
    func testStepsFitAFixedBatchAndTheLogitScaleIsClampedOrFrozen() throws {
        let group = ProcessGroup.world
        let pretrainer = try Pretrainer(config: config(), group: group)
        let batch = Array(0..<16)
        let first = pretrainer.step(local: batch, lr: 0.001).loss
        var last = first
        for _ in 0..<30 { last = pretrainer.step(local: batch, lr: 0.001).loss }
        XCTAssertLessThan(last, 0.5 * first, "30 steps on one batch fit it: loss \(first) -> \(last)")
        XCTAssertNotEqual(pretrainer.model.logitScale, 2.6592, "the logit scale is learned")

        pretrainer.model.weights["logit_scale"].pointee = 6
        _ = pretrainer.step(local: batch, lr: 0.001)
        XCTAssertEqual(pretrainer.model.logitScale, Float(log(100.0)), "clamped at ln 100 after a step")

        let frozen = try Pretrainer(config: config(["train.learn_logit_scale=false"]), group: group)
        for _ in 0..<3 { _ = frozen.step(local: batch, lr: 0.001) }
        XCTAssertEqual(frozen.model.logitScale, 2.6592, "an unlearned logit scale stays at its initial value")
    }

    /// The evaluation on 1 process scores the held-out pairs of the config.
    func testEvaluationOfTheRandomModelIsNearChance() throws {
        let pretrainer = try Pretrainer(config: config(), group: ProcessGroup.world)
        let evaluation = pretrainer.evaluate(afterEpochs: 0)
        XCTAssertEqual(evaluation.pairs, 48, "held_out pairs")
        XCTAssertEqual(evaluation.chanceZeroShotAccuracy, 100.0 / 48, accuracy: 1e-12, "48 classes")
        XCTAssertLessThan(evaluation.zeroShotAccuracy, 20, "a random CLIP knows no shapes")
        XCTAssertEqual(evaluation, pretrainer.evaluate(afterEpochs: 0).with(seconds: evaluation.seconds),
                       "the same weights give the same figures")
    }
}

private extension PretrainEvaluation {
    func with(seconds: Double) -> PretrainEvaluation {
        var copy = self
        copy.seconds = seconds
        return copy
    }
}
