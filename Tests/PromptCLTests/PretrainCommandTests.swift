import Foundation
import XCTest
import CLIP
import TestSupport

/// `promptcl pretrain` as a real job (the built binary, real `mpirun`): the same global batches on 2 ranks give
/// the losses (1e-5) and every weight (1e-4 relative per tensor) of the run without mpirun; the loss falls; the
/// output is a model folder that `CLIPModel.load` and `promptcl embed --model` read; bad configs and an output
/// directory that is not empty are refused before anything is written.
final class PretrainCommandTests: XCTestCase {
    private var scratch: URL!

    /// A tiny CLIP on 16 px synthetic shapes: 192 pairs, 3 epochs of 6 steps of a global batch of 32.
    private let tinyConfig = """
        seed = 5
        [model.random]
        image_size = 16
        patch_size = 4
        vision_width = 32
        vision_layers = 2
        vision_heads = 2
        text_width = 32
        text_layers = 1
        text_heads = 2
        projection_dim = 16
        context_length = 16
        [data]
        samples = 192
        held_out = 48
        [train]
        epochs = 3
        global_batch = 32
        log_every_steps = 3
        [optimizer]
        lr = 0.002
        [schedule]
        warmup_epochs = 0.5
        """

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-pretrain-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func writeConfig(_ text: String, name: String = "pretrain.toml") throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    private func pretrain(_ config: URL, out: URL, ranks: Int?, overrides: [String] = [],
                          timeout: Double = 300) throws -> TrainJob.Result {
        var arguments = ["pretrain", "--config", config.path, "--out", out.path]
        for override in overrides { arguments += ["--set", override] }
        return try TrainJob.promptcl(arguments, ranks: ranks, logs: out, timeout: timeout)
    }

    func testTwoRanksGiveTheSameLossesAndWeightsAndTheModelLoadsAndEmbeds() throws {
        let config = try writeConfig(tinyConfig)
        let plain = try pretrain(config, out: scratch.appendingPathComponent("plain"), ranks: nil)
        XCTAssertEqual(plain.status, 0, "pretraining without mpirun failed:\n\(plain.stderr)")
        let ranked = try pretrain(config, out: scratch.appendingPathComponent("np2"), ranks: 2)
        XCTAssertEqual(ranked.status, 0, "pretraining on 2 ranks failed:\n\(ranked.stderr)")

        let plainLosses = try TrainJob.stepLosses(plain.out), rankedLosses = try TrainJob.stepLosses(ranked.out)
        XCTAssertEqual(plainLosses.count, 18, "3 epochs x 6 steps")
        XCTAssertEqual(rankedLosses.count, plainLosses.count, "step count on 2 ranks")
        for (step, (loss, reference)) in zip(rankedLosses, plainLosses).enumerated() {
            XCTAssertEqual(loss, reference, accuracy: 1e-5 * max(1, abs(reference)),
                           "np 2, step \(step): loss \(loss) against \(reference)")
        }
        let firstLoss = try XCTUnwrap(plainLosses.first)
        let lastEpoch = plainLosses.suffix(6).reduce(0, +) / 6
        XCTAssertLessThan(lastEpoch, firstLoss - 0.3, "the loss falls: first step \(firstLoss), last epoch's mean \(lastEpoch)")

        let reference = try CLIPModel.load(directory: plain.out), model = try CLIPModel.load(directory: ranked.out)
        XCTAssertEqual(model.config, reference.config, "the same config.json")
        // k_proj.bias is left out: it adds q . b_k to every score of a query's row, which the softmax ignores, so
        // its gradient is 0 up to rounding, and Adam, dividing by that noise's RMS, moves it by ~lr per step in a
        // direction the rounding picks. It differs between the runs and changes no output (the embeddings below).
        var worst: Float = 0
        for entry in reference.weights.layout.entries where !entry.name.hasSuffix("k_proj.bias") {
            let error = relativeError(model.weights.values(entry.name), reference.weights.values(entry.name))
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, 1e-4, "np 2: \(entry.name) differs by \(error)")
        }
        print("pretrain np 2 against the plain run: \(plainLosses.count) steps, weights within \(worst)")

        for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt", "pretrain.toml", "metrics.jsonl",
                     "evaluation.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: plain.out.appendingPathComponent(name).path),
                          "the output holds \(name)")
        }
        let evaluation = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: plain.out.appendingPathComponent("evaluation.json"))) as? [String: [String: Any]])
        for key in ["random_init", "pretrained"] {
            let accuracy = try XCTUnwrap(evaluation[key]?["zero_shot_accuracy"] as? Double, "\(key) zero-shot accuracy")
            XCTAssertTrue((0...100).contains(accuracy), "\(key): a percent, got \(accuracy)")
        }
        XCTAssertEqual(evaluation["pretrained"]?["after_epochs"] as? Int, 3, "the final evaluation is after 3 epochs")
        XCTAssertTrue(plain.stdout.contains("R@1 image->text") && plain.stdout.contains("random init"),
                      "the figures are printed against the random initialisation:\n\(plain.stdout)")

        // promptcl embed on the folder, images at the model's size and two captions.
        var images = SafetensorsWriter()
        try images.add("pixel_values", shape: [3, 3, 16, 16], floats: randomNormal(3 * 3 * 16 * 16, seed: 9))
        let imagesURL = scratch.appendingPathComponent("images.safetensors")
        try images.write(to: imagesURL)
        let captionsURL = scratch.appendingPathComponent("captions.txt")
        try Data("a large red circle in the upper left\nat the top, a small blue square\n".utf8).write(to: captionsURL)
        var embeddings: [SafetensorsFile] = []
        for run in [plain, ranked] {
            let embedsURL = scratch.appendingPathComponent("embeds-\(run.out.lastPathComponent).safetensors")
            let embed = try TrainJob.promptcl(["embed", "--model", run.out.path, "--images", imagesURL.path,
                                               "--texts", captionsURL.path, "--out", embedsURL.path],
                                              ranks: nil, logs: scratch.appendingPathComponent("embed"))
            XCTAssertEqual(embed.status, 0, "promptcl embed --model on \(run.out.path) failed:\n\(embed.stderr)")
            embeddings.append(try SafetensorsFile(contentsOf: embedsURL))
        }
        XCTAssertEqual(embeddings[0].info("image_embeds")?.shape, [3, 16], "image embeddings")
        XCTAssertEqual(embeddings[0].info("text_embeds")?.shape, [2, 16], "text embeddings")
        for key in ["image_embeds", "text_embeds"] {
            let error = relativeError(try embeddings[1].floats(key), try embeddings[0].floats(key))
            XCTAssertLessThanOrEqual(error, 1e-4, "np 2: \(key) of the pretrained models differ by \(error)")
        }
    }

    func testBadConfigsAndAnOccupiedOutputAreRefusedWritingNothing() throws {
        let cases: [(name: String, text: String, ranks: Int, expected: [String])] = [
            ("unknown-key", tinyConfig.replacingOccurrences(of: "epochs = 3", with: "epoch = 3"), 1,
             ["unknown key train.epoch"]),
            ("model-path", tinyConfig + "\n[model]\npath = \"models/x\"\n", 1, ["unknown key model.path"]),
            ("wrong-type", tinyConfig.replacingOccurrences(of: "held_out = 48", with: "held_out = \"all\""), 1,
             ["data.held_out", "integer"]),
            ("indivisible-batch", tinyConfig.replacingOccurrences(of: "global_batch = 32", with: "global_batch = 31"), 2,
             ["train.global_batch 31 does not divide over 2 ranks"]),
            ("too-few-samples", tinyConfig.replacingOccurrences(of: "samples = 192", with: "samples = 16"), 1,
             ["data.samples", "fill no global batch of 32"]),
        ]
        for bad in cases {
            let config = try writeConfig(bad.text, name: "\(bad.name).toml")
            let out = scratch.appendingPathComponent(bad.name)
            let result = try pretrain(config, out: out, ranks: bad.ranks, timeout: 120)
            XCTAssertEqual(result.status, 2, "\(bad.name): exit status 2 (the run could not start):\n\(result.stderr)")
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("promptcl pretrain: ") }
            XCTAssertEqual(errors.count, 1, "\(bad.name): one error line, from one rank:\n\(result.stderr)")
            let message = errors.first.map(String.init) ?? ""
            XCTAssertTrue(message.contains(config.path), "\(bad.name): the error names the file: \(message)")
            for part in bad.expected {
                XCTAssertTrue(message.contains(part), "\(bad.name): the error says \"\(part)\": \(message)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(bad.name): no output directory")
        }

        // An output directory that holds something is refused on every rank count, and left as it was.
        let occupied = scratch.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: occupied, withIntermediateDirectories: true)
        let kept = occupied.appendingPathComponent("model.safetensors")
        try Data("an earlier model".utf8).write(to: kept)
        let config = try writeConfig(tinyConfig)
        for ranks in [nil, 2] {
            let result = try pretrain(config, out: occupied, ranks: ranks, timeout: 120)
            XCTAssertEqual(result.status, 2, "an occupied --out: exit status 2:\n\(result.stderr)")
            XCTAssertTrue(result.stderr.contains("\(occupied.path) already exists and is not empty"),
                          "the error names the directory:\n\(result.stderr)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: occupied.path), ["model.safetensors"],
                           "nothing added to the occupied directory")
            XCTAssertEqual(try Data(contentsOf: kept), Data("an earlier model".utf8), "the earlier file is untouched")
        }
    }
}
