import Foundation
import XCTest
import CLIP
import Continual
import TestSupport

/// Stop anywhere, lose nothing: real `promptcl train` jobs under `launch/mpirun`, stopped by a signal (raised on
/// a rank at a chosen step, or sent to mpirun from outside), killed (a rank, or rank 0 in the middle of a
/// checkpoint), then resumed with `--resume`; compared with the same run never stopped.
final class ResumeTests: XCTestCase {
    private var scratch: URL!

    /// A tiny random CLIP on 16 px synthetic shapes: 2 tasks, 2 epochs of 6 steps each (global batch 16).
    private let tinyConfig = """
        seed = 11
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
        epochs = 2
        [method.vpt]
        tokens = 4
        initialization = "uniform-unit"
        [method.task_identity]
        centroids = 2
        [train]
        global_batch = 16
        [optimizer]
        lr = 0.01
        """

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-resume-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private var config: URL {
        get throws {
            let url = scratch.appendingPathComponent("config.toml")
            if !FileManager.default.fileExists(atPath: url.path) { try Data(tinyConfig.utf8).write(to: url) }
            return url
        }
    }

    private func train(_ name: String, ranks: Int, _ overrides: [String], resume: String? = nil,
                       environment: [String: String] = [:]) throws -> TrainJob.Result {
        let out = scratch.appendingPathComponent(name)
        var arguments = ["train", "--config", try config.path, "--out", out.path]
        for override in overrides { arguments += ["--set", override] }
        if let resume { arguments += ["--resume", resume] }
        return try TrainJob.promptcl(arguments, ranks: ranks, logs: out, environment: environment, timeout: 120)
    }

    private func bytes(_ result: TrainJob.Result, _ file: String) throws -> Data {
        try Data(contentsOf: result.out.appendingPathComponent(file))
    }

    /// summary.json without its timings and rank count.
    private func scores(_ result: TrainJob.Result) throws -> NSDictionary {
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: try bytes(result, "summary.json")) as? [String: Any])
        return object.filter { !["wall_seconds", "evaluation_seconds", "ranks"].contains($0.key) } as NSDictionary
    }

    private func checkpoints(_ result: TrainJob.Result) -> [String] {
        CheckpointStore(runDirectory: result.out).checkpoints().map(\.lastPathComponent)
    }

    private func copy(_ result: TrainJob.Result, to name: String) throws {
        try FileManager.default.copyItem(at: result.out, to: scratch.appendingPathComponent(name))
    }

    private func events(_ result: TrainJob.Result, _ event: String) throws -> [[String: Any]] {
        try String(contentsOf: result.out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return object?["event"] as? String == event ? object : nil
            }
    }

    /// LPI-P (its own step through `CoupledStep`; the fusion factors trainable tensors like LPI-M's, Adam's moments
    /// of the task in progress with them): stopped mid-task on 2 ranks and resumed, it ends bitwise as the run never
    /// stopped.
    func testLPIPStoppedMidTaskResumesBitwise() throws {
        let overrides = ["method.name=lpi-p", "model.random.text_layers=2", "method.lpi.depth=2", "method.lpi.tokens=2",
                         "method.lpi.rank=2"]
        let never = try train("lpip-never", ranks: 2, overrides)
        XCTAssertEqual(never.status, 0, "the uninterrupted run:\n\(never.stderr)")
        let stopped = try train("lpip-stopped", ranks: 2, overrides, environment: ["PROMPTCL_INJECT_FAILURE": "1:15:signal"])
        XCTAssertEqual(stopped.status, 75, "a stop signal ends the job with 75:\n\(stopped.stderr)")
        XCTAssertEqual(checkpoints(stopped), ["step-00000016", "step-00000012-task-000-end"], "stopped in task 2")
        let resumed = try train("lpip-stopped", ranks: 2, overrides, resume: "auto")
        XCTAssertEqual(resumed.status, 0, "the resumed run:\n\(resumed.stderr)")
        for file in ["prompts.safetensors", "task_keys.safetensors"] {
            XCTAssertEqual(try bytes(resumed, file), try bytes(never, file), "\(file): bitwise the run never stopped")
        }
        XCTAssertEqual(try scores(resumed), try scores(never), "summary.json's scores: those of the run never stopped")
    }

    func testAStopSignalMidTaskThenResumeEndsBitwiseLikeTheRunNeverStopped() throws {
        let overrides = ["method.name=vpt-nsp2"]
        let never = try train("never", ranks: 2, overrides)
        XCTAssertEqual(never.status, 0, "the uninterrupted run:\n\(never.stderr)")

        // Rank 1 raises SIGUSR1 before step 15 (task 2, epoch 1, step 4): all ranks stop after that step.
        let stopped = try train("stopped", ranks: 2, overrides, environment: ["PROMPTCL_INJECT_FAILURE": "1:15:signal"])
        XCTAssertEqual(stopped.status, 75, "a stop signal ends the job with 75:\n\(stopped.stderr)")
        XCTAssertTrue(stopped.stdout.contains("stopped on SIGUSR1 after 16 steps"), "the stop is reported:\n\(stopped.stdout)")
        XCTAssertEqual(checkpoints(stopped), ["step-00000016", "step-00000012-task-000-end"],
                       "the end-of-task checkpoint and the one written on the signal")
        let state = try Checkpoint(verifying: stopped.out.appendingPathComponent("checkpoints/step-00000016")).state
        XCTAssertEqual(state.reason, .signal, "the checkpoint's reason")
        XCTAssertEqual([state.position.task, state.position.epoch, state.position.step], [1, 0, 4],
                       "mid-epoch: task 2, epoch 1, after its 4th step")
        XCTAssertEqual(state.optimizer?.stepCount, 4, "Adam's step count of the task in progress")
        try copy(stopped, to: "stopped-np4")

        let resumed = try train("stopped", ranks: 2, overrides, resume: "auto")
        XCTAssertEqual(resumed.status, 0, "the resumed run:\n\(resumed.stderr)")
        XCTAssertEqual(try events(resumed, "resume").count, 1, "metrics.jsonl records the resume")
        for file in ["prompts.safetensors", "null_space.safetensors"] {
            XCTAssertEqual(try bytes(resumed, file), try bytes(never, file), "\(file): bitwise the run never stopped")
        }
        XCTAssertEqual(try scores(resumed), try scores(never), "summary.json's scores: those of the run never stopped")

        // The same checkpoint resumed on 4 ranks: the same run, up to the all-reduce's rounding.
        let wider = try train("stopped-np4", ranks: 4, overrides, resume: "auto")
        XCTAssertEqual(wider.status, 0, "resumed on 4 ranks:\n\(wider.stderr)")
        let reference = try SafetensorsFile(contentsOf: never.out.appendingPathComponent("prompts.safetensors"))
        let other = try SafetensorsFile(contentsOf: wider.out.appendingPathComponent("prompts.safetensors"))
        for name in reference.tensorNames {
            let error = relativeError(try other.floats(name), try reference.floats(name))
            print("resumed on 4 ranks: \(name) relative error \(error)")
            XCTAssertLessThanOrEqual(error, 1e-5, "resumed on 4 ranks: \(name) differs by \(error)")
        }
    }

    func testTimedCheckpointsFollowTheClockOfRankZero() throws {
        // Every 0.6 ms: shorter than any step with its all-reduce, so nearly every step ends past the deadline
        // however fast the machine (12 ms gave only 2 on a fast one).
        let run = try train("timed", ranks: 2, ["checkpoint.every_minutes=0.00001", "checkpoint.keep_last=3"])
        XCTAssertEqual(run.status, 0, "the run:\n\(run.stderr)")
        let reasons = try events(run, "checkpoint").compactMap { $0["reason"] as? String }
        XCTAssertGreaterThan(reasons.filter { $0 == "every_minutes" }.count, 3,
                             "checkpoints every 0.6 ms of a run of 24 steps: \(reasons)")
        XCTAssertEqual(reasons.filter { $0 == "end_of_task" }.count, 2, "and one after each task: \(reasons)")
        let kept = checkpoints(run).filter { !$0.hasSuffix("-end") }
        XCTAssertEqual(kept.count, 3, "checkpoint.keep_last = 3 periodic ones kept: \(checkpoints(run))")
    }

    func testASignalSentToMpirunStopsEveryRankWithACheckpoint() throws {
        let out = scratch.appendingPathComponent("external")
        let job = try TrainJob.start(["train", "--config", try config.path, "--out", out.path,
                                      "--set", "data.samples=9600", "--set", "tasks.count=1"], ranks: 2, logs: out)
        let metrics = out.appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && job.process.isRunning,
              ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").components(separatedBy: "\"event\":\"step\"").count < 4 {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(job.process.isRunning, "the job is still training when the signal is sent")
        kill(job.process.processIdentifier, SIGUSR1)
        let result = try job.wait(timeout: 60)
        XCTAssertEqual(result.status, 75, "mpirun forwards SIGUSR1; the job stops with 75:\n\(result.stderr)")
        let written = checkpoints(result)
        XCTAssertEqual(written.count, 1, "one checkpoint, written on the signal: \(written)")
        let state = try Checkpoint(verifying: out.appendingPathComponent("checkpoints").appendingPathComponent(written[0])).state
        XCTAssertEqual(state.reason, .signal, "the checkpoint's reason")
        XCTAssertLessThan(state.position.globalStep, 2 * 300, "it stopped before the end of the run")
    }

    func testAKilledRankEndsTheJobAndTheRunGoesOnFromTheLastCheckpoint() throws {
        let overrides = ["method.name=s-prompts", "checkpoint.every_steps=5"]
        let never = try train("never", ranks: 2, overrides)
        XCTAssertEqual(never.status, 0, "the uninterrupted run:\n\(never.stderr)")

        let killed = try train("killed", ranks: 2, overrides, environment: ["PROMPTCL_INJECT_FAILURE": "1:18:kill"])
        XCTAssertNotEqual(killed.status, 0, "a killed rank fails the job")
        XCTAssertNotEqual(killed.status, 75, "and is no stop on request")
        print("job with rank 1 killed at step 18 ended after \(String(format: "%.2f", killed.seconds)) s")
        XCTAssertLessThan(killed.seconds, 10, "the whole job (18 steps, then the kill) ends within 10 s")
        XCTAssertEqual(checkpoints(killed), ["step-00000015", "step-00000012-task-000-end", "step-00000010"],
                       "the checkpoints before the kill (keep_last 2 periodic ones and the end of task 1)")
        XCTAssertNoThrow(try Checkpoint(verifying: killed.out.appendingPathComponent("checkpoints/step-00000015")),
                         "the last checkpoint verifies")
        let resumed = try train("killed", ranks: 2, overrides, resume: "auto")
        XCTAssertEqual(resumed.status, 0, "resumed after the kill:\n\(resumed.stderr)")
        for file in ["prompts.safetensors", "task_keys.safetensors"] {
            XCTAssertEqual(try bytes(resumed, file), try bytes(never, file), "\(file): bitwise the run never stopped")
        }
        XCTAssertEqual(try scores(resumed), try scores(never), "summary.json's scores")

        // Rank 0 killed after writing the tensors of checkpoint step-10 and before its state.json.
        let torn = try train("torn", ranks: 2, overrides, environment: ["PROMPTCL_INJECT_FAILURE": "0:8:kill-in-checkpoint"])
        XCTAssertNotEqual(torn.status, 0, "rank 0 killed while writing a checkpoint fails the job")
        XCTAssertLessThan(torn.seconds, 10, "and the job ends within 10 s")
        XCTAssertEqual(checkpoints(torn), ["step-00000005"], "only the complete checkpoint counts")
        let partial = torn.out.appendingPathComponent("checkpoints/.partial-step-00000010")
        XCTAssertTrue(FileManager.default.fileExists(atPath: partial.path), "the torn write is left as a partial directory")
        let afterTorn = try train("torn", ranks: 2, overrides, resume: "auto")
        XCTAssertEqual(afterTorn.status, 0, "resumed after the torn checkpoint:\n\(afterTorn.stderr)")
        XCTAssertTrue(afterTorn.stdout.contains("resumed from \(torn.out.path)/checkpoints/step-00000005"),
                      "from the checkpoint before the torn one:\n\(afterTorn.stdout)")
        XCTAssertEqual(try bytes(afterTorn, "prompts.safetensors"), try bytes(never, "prompts.safetensors"),
                       "prompts.safetensors: bitwise the run never stopped")
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path), "the partial directory is cleaned up")
    }

    func testResumeRefusesADifferentConfigOrADamagedCheckpointAndFallsBackWhenAuto() throws {
        let overrides = ["checkpoint.every_steps=5"]
        let run = try train("run", ranks: 2, overrides)
        XCTAssertEqual(run.status, 0, "the run:\n\(run.stderr)")
        let newest = run.out.appendingPathComponent("checkpoints/step-00000024-task-001-end")

        let otherConfig = try train("run", ranks: 2, overrides + ["optimizer.lr=0.02", "method.vpt.tokens=3"], resume: "auto")
        XCTAssertEqual(otherConfig.status, 2, "another config cannot resume")
        for part in ["method.vpt.tokens: 4 in the checkpoint, 3 now", "optimizer.lr: 0.01 in the checkpoint, 0.02 now"] {
            XCTAssertTrue(otherConfig.stderr.contains(part), "the message names '\(part)':\n\(otherConfig.stderr)")
        }
        let checkpointKeys = try train("run", ranks: 2, ["checkpoint.every_steps=7"], resume: "auto")
        XCTAssertEqual(checkpointKeys.status, 0, "checkpoint.* may change on resume:\n\(checkpointKeys.stderr)")

        let tensors = newest.appendingPathComponent("trainable.safetensors")
        var data = try Data(contentsOf: tensors)
        data[data.count - 5] ^= 0x10
        try data.write(to: tensors)
        let explicit = try train("run", ranks: 2, overrides, resume: newest.path)
        XCTAssertEqual(explicit.status, 2, "a damaged checkpoint named by path is refused")
        XCTAssertTrue(explicit.stderr.contains("trainable.safetensors has CRC-32"), "named:\n\(explicit.stderr)")
        let fallback = try train("run", ranks: 2, overrides, resume: "auto")
        XCTAssertEqual(fallback.status, 0, "auto falls back:\n\(fallback.stderr)")
        XCTAssertTrue(fallback.stderr.contains("warning: checkpoint \(newest.path): trainable.safetensors has CRC-32")
                      && fallback.stderr.contains("falling back"), "a warning names the damaged checkpoint:\n\(fallback.stderr)")
        XCTAssertTrue(fallback.stdout.contains("resumed from \(run.out.path)/checkpoints/step-00000020"),
                      "from the previous checkpoint:\n\(fallback.stdout)")
    }
}
