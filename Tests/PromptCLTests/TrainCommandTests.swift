import Foundation
import XCTest
import CLIP
import Continual
import TestSupport
@testable import promptcl

/// `promptcl train` as people run it: real processes, real `mpirun` (launch/mpirun), the built binary.
/// The same global batch on 1, 2 and 4 ranks gives the same losses and prompts (float rounding aside);
/// the same seed gives the same bits; a failing rank ends the job; bad configs get one clear error each.
final class TrainCommandTests: XCTestCase {
    private var scratch: URL!

    /// A tiny random CLIP on 16 px synthetic shapes: 2 tasks of 24 classes, 6 steps each of a global
    /// batch of 16 (divisible over 1, 2 and 4 ranks).
    private let tinyConfig = """
        seed = 7
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
        [data]
        samples = 192
        [tasks]
        count = 2
        epochs = 1
        [method.vpt]
        tokens = 2
        [train]
        global_batch = 16
        log_every_steps = 2
        [optimizer]
        lr = 0.01
        """

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-train-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func writeConfig(_ text: String, name: String = "config.toml") throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    private func prompts(_ out: URL) throws -> [String: [Float]] {
        let file = try SafetensorsFile(contentsOf: out.appendingPathComponent("prompts.safetensors"))
        var tensors: [String: [Float]] = [:]
        for name in file.tensorNames { tensors[name] = try file.floats(name) }
        return tensors
    }

    private func assertSucceeded(_ result: TrainJob.Result, _ what: String, file: StaticString = #filePath,
                                 line: UInt = #line) {
        XCTAssertEqual(result.status, 0, "\(what) failed:\n\(result.stderr)", file: file, line: line)
    }

    func testOneTwoAndFourRanksGiveTheSameLossesAndPrompts() throws {
        let config = try writeConfig(tinyConfig)
        let plain = try TrainJob.run(config: config, out: scratch.appendingPathComponent("plain"), ranks: nil)
        assertSucceeded(plain, "the run without mpirun")
        let plainLosses = try TrainJob.stepLosses(plain.out), plainPrompts = try prompts(plain.out)
        XCTAssertEqual(plainLosses.count, 12, "2 tasks x 6 steps")
        XCTAssertEqual(Set(plainPrompts.keys), Set(["vpt.layer0", "vpt.layer1", "vision.site0", "vision.site1"]),
                       "the trained tensors by name, and the sites' prompts for embed --prompts")
        XCTAssertEqual(plainPrompts["vision.site1"], plainPrompts["vpt.layer1"], "VPT's site 1 holds vpt.layer1")
        XCTAssertTrue(plain.stdout.contains("task 2/2  epoch 1/1  step 6/6  loss"), "progress lines:\n\(plain.stdout)")
        let (first, last) = (plainLosses.prefix(6).reduce(0, +), plainLosses.suffix(6).reduce(0, +))
        XCTAssertTrue(plainLosses.allSatisfy(\.isFinite) && first > 0 && last > 0, "losses \(plainLosses)")
        let plainSummary = try RunReport.readSummary(in: plain.out)
        XCTAssertEqual(plainSummary.accuracyMatrix.rows.map(\.count), [1, 2], "an evaluation after each task")
        XCTAssertEqual(plainSummary.finalTasks.map(\.samples), [240, 240], "each task's 240 test samples")
        XCTAssertTrue(plain.stdout.contains("evaluation after task 2/2: accuracy"), "evaluation lines:\n\(plain.stdout)")

        for ranks in [1, 2, 4] {
            let result = try TrainJob.run(config: config, out: scratch.appendingPathComponent("np\(ranks)"), ranks: ranks)
            assertSucceeded(result, "mpirun -np \(ranks)")
            let losses = try TrainJob.stepLosses(result.out), tensors = try prompts(result.out)
            XCTAssertEqual(losses.count, plainLosses.count, "np \(ranks): step count")
            for (step, (loss, reference)) in zip(losses, plainLosses).enumerated() {
                XCTAssertLessThanOrEqual(abs(loss - reference) / abs(reference), 1e-5,
                                         "np \(ranks), step \(step): loss \(loss) against \(reference) without mpirun")
            }
            for (name, reference) in plainPrompts {
                let values = try XCTUnwrap(tensors[name], "np \(ranks): no \(name)")
                let error = relativeError(values, reference)
                print("np \(ranks): \(name) relative error \(error)")
                XCTAssertLessThanOrEqual(error, 1e-5, "np \(ranks): \(name) differs by \(error)")
                if ranks == 1 { XCTAssertEqual(values, reference, "np 1 is the plain run, bit for bit: \(name)") }
            }
            if ranks == 1 { XCTAssertEqual(losses, plainLosses, "np 1 gives the plain run's losses bit for bit") }
            // The evaluation shards the test set over the ranks: the same accuracies, but for a sample whose
            // top two classes swap through the prompts' rounding (one sample is 100 / 240 of a task).
            for name in [RunReport.summaryFile, RunReport.markdownFile, RunReport.plotFile] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: result.out.appendingPathComponent(name).path),
                              "np \(ranks) wrote \(name)")
            }
            let summary = try RunReport.readSummary(in: result.out)
            XCTAssertEqual(summary.ranks, ranks, "np \(ranks): the summary's rank count")
            for (row, reference) in zip(summary.accuracyMatrix.rows, plainSummary.accuracyMatrix.rows) {
                for (value, expected) in zip(row, reference) {
                    XCTAssertEqual(value, expected, accuracy: 100.0 / 240 + 1e-9,
                                   "np \(ranks): accuracy matrix \(summary.accuracyMatrix.rows) against "
                                   + "\(plainSummary.accuracyMatrix.rows) without mpirun")
                }
            }
        }
    }

    /// NSP2 over 3 tasks: the statistics are sharded over the ranks and merged by ScaLAPACK's SVD, the second
    /// time with the first task's factor; every rank count chooses the same null spaces and trains the same prompts.
    func testNSP2ChoosesTheSameNullSpacesAndPromptsOnOneTwoAndFourRanks() throws {
        let config = try writeConfig(tinyConfig)
        let overrides = ["method.name=vpt-nsp2", "tasks.count=3", "method.vpt.tokens=4", "method.vpt.initialization=uniform-unit"]
        func nullSpaces(_ out: URL) throws -> [[Int]] {
            let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
                .split(separator: "\n").filter { $0.contains("\"event\":\"null_space\"") }
            return try lines.map { line in
                let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let layers = try XCTUnwrap(object["layers"] as? [[String: Any]])
                return layers.flatMap { [$0["layer"], $0["rows"], $0["channel_nullity"], $0["token_nullity"]].map { $0 as? Int ?? -1 } }
            }
        }
        let plain = try TrainJob.run(config: config, out: scratch.appendingPathComponent("nsp2-plain"), ranks: nil,
                                     overrides: overrides)
        assertSucceeded(plain, "vpt-nsp2 without mpirun")
        let plainSpaces = try nullSpaces(plain.out), plainPrompts = try prompts(plain.out)
        XCTAssertEqual(plainSpaces.count, 2, "null spaces after tasks 1 and 2 of 3")
        XCTAssertEqual(plainSpaces.map { [$0[0], $0[1]] }, [[0, 64 * 5 * 2], [0, 128 * 5 * 2]],
                       "layer 0's rows: 64 samples per task x 5 image tokens x 2 heads, summed over tasks")
        XCTAssertTrue(plainSpaces.allSatisfy { $0[2] > 0 && $0[2] < 32 && $0[3] > 0 && $0[3] < 4 },
                      "null spaces inside D = 32 and L = 4: \(plainSpaces)")
        for ranks in [2, 4] {
            let result = try TrainJob.run(config: config, out: scratch.appendingPathComponent("nsp2-np\(ranks)"),
                                          ranks: ranks, overrides: overrides)
            assertSucceeded(result, "vpt-nsp2 on mpirun -np \(ranks)")
            XCTAssertEqual(try nullSpaces(result.out), plainSpaces, "np \(ranks): the same rows and null spaces")
            let factors = try nullSpaceFactors(result.out), plainFactors = try nullSpaceFactors(plain.out)
            var worst = 0.0
            for (name, reference) in plainFactors {
                let values = try XCTUnwrap(factors[name], "np \(ranks): no \(name) in null_space.safetensors")
                let scale = reference.map(abs).max() ?? 1
                let error = zip(values, reference).map { abs($0 - $1) }.max()! / scale
                // The second task's statistics come from prompts that differ in float rounding (1e-7).
                XCTAssertLessThanOrEqual(error, 1e-6, "np \(ranks): \(name) of the merged factors differs by \(error)")
                worst = max(worst, error)
            }
            print("vpt-nsp2 np \(ranks): merged factors (singular values, V^T diag(s^2) V) within \(worst)")
            let tensors = try prompts(result.out)
            for (name, reference) in plainPrompts {
                let error = relativeError(try XCTUnwrap(tensors[name], "np \(ranks): no \(name)"), reference)
                print("vpt-nsp2 np \(ranks): \(name) relative error \(error)")
                XCTAssertLessThanOrEqual(error, 1e-5, "vpt-nsp2 np \(ranks): \(name) differs by \(error)")
            }
        }
    }

    /// Per layer and condition of null_space.safetensors: the singular values and V^T diag(s^2) V (the
    /// covariance, free of the vectors' signs).
    private func nullSpaceFactors(_ out: URL) throws -> [String: [Double]] {
        let file = try SafetensorsFile(contentsOf: out.appendingPathComponent("null_space.safetensors"))
        var result: [String: [Double]] = [:]
        for name in file.tensorNames where name.hasSuffix(".singular_values") {
            let s = try file.doubles(name)
            let stem = String(name.dropLast(".singular_values".count))
            let vt = try file.doubles(stem + ".right_vectors"), n = vt.count / max(s.count, 1)
            var covariance = [Double](repeating: 0, count: n * n)
            for (k, value) in s.enumerated() {
                for i in 0..<n { for j in 0..<n { covariance[i * n + j] += value * value * vt[k * n + i] * vt[k * n + j] } }
            }
            result[name] = s
            result[stem + ".covariance"] = covariance
        }
        XCTAssertEqual(result.count, 2 * 2 * 2, "2 layers x 2 conditions x (values, covariance) in \(file.url.path)")
        return result
    }

    func testTrainedPromptsOfAHuggingFaceModelLoadIntoEmbed() throws {
        let model = fixturesDirectory.appendingPathComponent("models/tiny-a")
        let config = try writeConfig(tinyConfig)
        let result = try TrainJob.run(config: config, out: scratch.appendingPathComponent("tiny-a"), ranks: 2,
                                      overrides: ["model.path=\"\(model.path)\"", "tasks.count=1"])
        assertSucceeded(result, "training on transformers' tiny-a")
        var embeddings: [[Float]] = []
        for prompts in [nil, result.out.appendingPathComponent("prompts.safetensors").path] {
            let out = scratch.appendingPathComponent("embeds-\(embeddings.count).safetensors")
            var arguments = ["--model", model.path, "--images", model.appendingPathComponent("images.safetensors").path,
                             "--texts", model.appendingPathComponent("captions.txt").path, "--out", out.path]
            if let prompts { arguments += ["--prompts", prompts] }
            try EmbedCommand.parse(arguments).run()
            embeddings.append(try SafetensorsFile(contentsOf: out).floats("image_embeds"))
        }
        let change = relativeError(embeddings[1], embeddings[0])
        XCTAssertGreaterThan(change, 1e-3, "the trained prompts change tiny-a's image embeddings (by \(change))")
    }

    func testTheSameSeedGivesBitwiseIdenticalPrompts() throws {
        let config = try writeConfig(tinyConfig)
        var files: [Data] = []
        for run in 0..<2 {
            let result = try TrainJob.run(config: config, out: scratch.appendingPathComponent("run\(run)"), ranks: 2,
                                          overrides: ["tasks.count=1"])
            assertSucceeded(result, "run \(run)")
            files.append(try Data(contentsOf: result.out.appendingPathComponent("prompts.safetensors")))
            let used = try String(contentsOf: result.out.appendingPathComponent("config.toml"), encoding: .utf8)
            XCTAssertTrue(used.contains("count = 1"), "config.toml records the --set override:\n\(used)")
        }
        XCTAssertEqual(files[0], files[1], "two runs with seed 7 on 2 ranks write the same prompts.safetensors bytes")
        let other = try TrainJob.run(config: config, out: scratch.appendingPathComponent("seed8"), ranks: 2,
                                     overrides: ["tasks.count=1", "seed=8"])
        assertSucceeded(other, "the run with seed 8")
        XCTAssertNotEqual(try Data(contentsOf: other.out.appendingPathComponent("prompts.safetensors")), files[0],
                          "another seed gives other prompts")
    }

    /// The gradient all-reduce in per-layer buckets overlapped with the vision backward (`train.overlap_allreduce`,
    /// the default) against one all-reduce after it: the same losses and prompts, bit for bit on 2 ranks (each sum
    /// is a + b whichever call carries it) and within 1e-6 on 4 (MPI's algorithm for a message size orders the
    /// additions). The step records say what went early: with 3 prompted layers, vpt.layer2 and vpt.layer1 (2 of 3
    /// tensors); vpt.layer0 is final only after the backward. NSP2 (VPT-deep's buckets, its projection after the
    /// reduce) likewise on 2 ranks over 2 tasks.
    func testBucketedAndSingleAllreduceTrainTheSamePrompts() throws {
        let config = try writeConfig(tinyConfig)
        let cases: [(name: String, ranks: Int, overrides: [String])] = [
            ("vpt", 2, ["tasks.count=1", "model.random.vision_layers=3"]),
            ("vpt", 4, ["tasks.count=1", "model.random.vision_layers=3"]),
            ("nsp2", 2, ["tasks.count=2", "model.random.vision_layers=3", "method.name=vpt-nsp2", "method.vpt.tokens=4",
                         "method.vpt.initialization=uniform-unit"]),
        ]
        for (name, ranks, overrides) in cases {
            var runs: [Bool: (prompts: [String: [Float]], losses: [Float], steps: [[String: Any]])] = [:]
            for overlap in [true, false] {
                let result = try TrainJob.run(config: config, out: scratch.appendingPathComponent("\(name)-np\(ranks)-\(overlap)"),
                                              ranks: ranks, overrides: overrides + ["train.overlap_allreduce=\(overlap)"])
                assertSucceeded(result, "\(name) np \(ranks) with overlap_allreduce \(overlap)")
                runs[overlap] = (try prompts(result.out), try TrainJob.stepLosses(result.out), try stepRecords(result.out))
            }
            let bucketed = try XCTUnwrap(runs[true]), single = try XCTUnwrap(runs[false])
            XCTAssertFalse(bucketed.steps.isEmpty, "\(name) np \(ranks): step records")
            for record in bucketed.steps {
                XCTAssertEqual(record["overlapped_buckets"] as? Int, 2, "\(name) np \(ranks): buckets started early in \(record)")
                XCTAssertEqual((record["overlapped_fraction"] as? NSNumber)?.doubleValue ?? -1, 2.0 / 3, accuracy: 1e-12,
                               "\(name) np \(ranks): 2 of 3 equal tensors went early")
                XCTAssertNotNil(record["allreduce_seconds"] as? NSNumber, "allreduce_seconds kept")
            }
            for record in single.steps {
                XCTAssertEqual(record["overlapped_buckets"] as? Int, 0, "\(name) np \(ranks): no bucket with the option off")
                XCTAssertEqual((record["overlapped_fraction"] as? NSNumber)?.doubleValue, 0, "nothing overlapped")
            }
            XCTAssertEqual(Set(bucketed.prompts.keys), Set(single.prompts.keys), "\(name) np \(ranks): the same tensors")
            for (tensor, reference) in single.prompts {
                let values = try XCTUnwrap(bucketed.prompts[tensor], "no \(tensor)")
                let error = relativeError(values, reference)
                print("\(name) np \(ranks): \(tensor) bucketed against single all-reduce: relative error \(error)")
                if ranks == 2 {
                    XCTAssertEqual(values, reference, "\(name) np 2: \(tensor) bit for bit, bucketed or not")
                } else {
                    XCTAssertLessThanOrEqual(error, 1e-6, "\(name) np \(ranks): \(tensor) differs by \(error)")
                }
            }
            XCTAssertEqual(bucketed.losses.count, single.losses.count, "\(name) np \(ranks): step count")
            for (step, (loss, reference)) in zip(bucketed.losses, single.losses).enumerated() {
                XCTAssertLessThanOrEqual(abs(loss - reference), ranks == 2 ? 0 : 1e-6 * abs(reference),
                                         "\(name) np \(ranks), step \(step): loss \(loss) against \(reference)")
            }
            for (step, (record, reference)) in zip(bucketed.steps, single.steps).enumerated() {
                let norm = (record["grad_norm"] as? NSNumber)?.floatValue ?? .nan
                let expected = (reference["grad_norm"] as? NSNumber)?.floatValue ?? .nan
                XCTAssertLessThanOrEqual(abs(norm - expected), ranks == 2 ? 0 : 1e-6 * abs(expected),
                                         "\(name) np \(ranks), step \(step): gradient norm \(norm) against \(expected)")
            }
        }
    }

    /// The "step" records of a run's metrics.jsonl, in order.
    private func stepRecords(_ out: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["event"] as? String == "step" ? object : nil
        }
    }

    func testAFailingRankEndsTheWholeJobQuickly() throws {
        let config = try writeConfig(tinyConfig)
        let out = scratch.appendingPathComponent("failing")
        let result = try TrainJob.run(config: config, out: out, ranks: 2,
                                      environment: ["PROMPTCL_INJECT_FAILURE": "1:3"], timeout: 120)
        XCTAssertNotEqual(result.status, 0, "the job must fail")
        XCTAssertTrue(result.stderr.contains("[rank 1/2] injected failure at global step 3"),
                      "rank 1's message on stderr:\n\(result.stderr)")
        let losses = try TrainJob.stepLosses(out)
        XCTAssertEqual(losses.count, 3, "steps 0-2 were recorded before the failure")
        let metrics = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("metrics.jsonl").path)
        let lastWrite = try XCTUnwrap(metrics[.modificationDate] as? Date)
        let afterFailure = Date().timeIntervalSince(lastWrite)
        print("job ended \(String(format: "%.2f", afterFailure)) s after the last step before the failure")
        XCTAssertLessThan(afterFailure, 10, "the job must end within 10 s of the failure, took \(afterFailure) s")
    }

    func testBadConfigsGetOneClearErrorEach() throws {
        let cases: [(name: String, text: String, ranks: Int, expected: [String])] = [
            ("unknown-key", tinyConfig + "\nlrr = 1\n", 1, ["unknown key optimizer.lrr"]),
            ("wrong-type", tinyConfig.replacingOccurrences(of: "samples = 192", with: "samples = \"many\""), 1,
             ["data.samples", "integer"]),
            ("indivisible-batch", tinyConfig.replacingOccurrences(of: "global_batch = 16", with: "global_batch = 15"), 2,
             ["train.global_batch 15 does not divide over 2 ranks"]),
            ("negative-lr", tinyConfig.replacingOccurrences(of: "lr = 0.01", with: "lr = -0.01"), 2,
             ["lr must be finite and >= 0"]),
        ]
        for bad in cases {
            let config = try writeConfig(bad.text, name: "\(bad.name).toml")
            let out = scratch.appendingPathComponent(bad.name)
            let result = try TrainJob.run(config: config, out: out, ranks: bad.ranks, timeout: 120)
            XCTAssertEqual(result.status, 2, "\(bad.name): exit status 2 (the run could not start):\n\(result.stderr)")
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("promptcl train: ") }
            XCTAssertEqual(errors.count, 1, "\(bad.name): one error line, from one rank:\n\(result.stderr)")
            let message = errors.first.map(String.init) ?? ""
            XCTAssertTrue(message.contains(config.path), "\(bad.name): the error names the file: \(message)")
            for part in bad.expected {
                XCTAssertTrue(message.contains(part), "\(bad.name): the error says \"\(part)\": \(message)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(bad.name): no output directory")
        }
    }
}
