import CLIP
import Foundation
import Prompting

/// Rank 0's record of a run in its output directory (`--out DIR`):
/// ```
/// DIR/config.toml           the config as used, every key
/// DIR/metrics.jsonl         one line per event: run, task_start, step, task_end, task_keys, null_space,
///                           evaluation, checkpoint, resume, end   (MetricsLog; a resumed run appends)
/// DIR/checkpoints/          rank 0's checkpoints (CheckpointStore, written by the trainer)
/// DIR/summary.json          at the end, from the evaluations: accuracy matrix, average and final accuracy,
/// DIR/report.md             forgetting, recall for retrieval (RunReport: RunSummary, ReportMarkdown,
/// DIR/recall.svg            RecallPlot)
/// DIR/task_keys.safetensors per-task methods: every task's k-means keys
/// DIR/null_space.safetensors  NSP2: the merged null-space factors
/// DIR/prompts.safetensors   the trainable tensors by name (vpt.layer0, ...) and, for `embed --prompts`,
///                           every site's prompts with the plans (PromptSet: vision.site{i}, text.site{i});
///                           rewritten atomically at the end of each task; metadata: method, task
/// ```
/// and the progress lines on stdout (`ProgressLine`). A directory that already holds a run (a
/// metrics.jsonl) is refused, so nothing saved is overwritten.
public final class RunRecorder: TrainingObserver {
    public let directory: URL
    private let metrics: MetricsLog
    private let config: TrainingConfig
    private let methodName: String
    private let print: (String) -> Void
    private let ranks: Int
    private var taskCount = 1
    private var windowImages = 0
    private var windowSeconds = 0.0
    private var totalSeconds = 0.0
    private var steps = 0
    private var evaluations: [EvaluationRecord] = []
    private let started = Date()

    /// Creates `directory` if needed, writes config.toml and starts metrics.jsonl with a "run" line.
    /// `continuing`: the run goes on in a directory that may hold its earlier part (`--resume`): metrics.jsonl is
    /// appended to instead of refused.
    public init(directory: URL, config: TrainingConfig, configTOML: String, ranks: Int, continuing: Bool = false,
                print: @escaping (String) -> Void) throws {
        self.directory = directory
        self.config = config
        self.print = print
        self.ranks = ranks
        methodName = config.method.name.rawValue
        let files = FileManager.default
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("\(directory.path): cannot create the output directory: \(error.localizedDescription)")
        }
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        guard continuing || !files.fileExists(atPath: metricsURL.path) else {
            throw TrainingError("\(directory.path) already holds a run (metrics.jsonl): choose another --out "
                                + "or move it away")
        }
        do {
            try Data(configTOML.utf8).write(to: directory.appendingPathComponent("config.toml"), options: .atomic)
        } catch {
            throw TrainingError("\(directory.path)/config.toml: cannot write: \(error.localizedDescription)")
        }
        metrics = try MetricsLog(url: metricsURL, appending: continuing)
        try metrics.write("run", RunStart(method: methodName, ranks: ranks, seed: config.seed,
                                          globalBatch: config.train.globalBatch))
    }

    public func taskStarted(_ start: TaskStart) throws {
        taskCount = start.taskCount
        print("task \(start.task + 1)/\(start.taskCount)\(start.domain.map { " (\($0))" } ?? ""): "
              + "\(start.classes.count) classes, \(start.samples) samples, "
              + "\(start.epochs) epoch(s) x \(start.stepsPerEpoch) steps")
        try metrics.write("task_start", start)
    }

    public func stepFinished(_ record: StepRecord) throws {
        try metrics.write("step", record)
        steps += 1
        totalSeconds += record.stepSeconds
        windowSeconds += record.stepSeconds
        windowImages += record.images
        let endOfEpoch = record.step == record.stepsPerEpoch - 1
        if (record.globalStep + 1) % config.train.logEverySteps == 0 || endOfEpoch {
            print(ProgressLine.format(record, imagesPerSecond: Double(windowImages) / max(windowSeconds, 1e-9),
                                      secondsPerStep: totalSeconds / Double(steps), taskCount: taskCount,
                                      epochs: config.tasks.epochs))
            windowImages = 0
            windowSeconds = 0
        }
    }

    public func taskFinished(_ end: TaskEnd, parameters: TrainableParameters, prompts: PromptSet?) throws {
        let metadata = ["format": "promptcl-trainable", "method": methodName, "task": String(end.task)]
        var writer = try prompts?.writer(metadata: metadata) ?? SafetensorsWriter(metadata: metadata)
        try parameters.addValues(to: &writer)
        try writer.write(to: directory.appendingPathComponent("prompts.safetensors"))
        try metrics.write("task_end", end)
        print("task \(end.task + 1)/\(taskCount) done in \(ProgressLine.duration(end.seconds)): "
              + "loss \(String(format: "%.4f", end.lastEpochLoss)) over its last epoch")
    }

    /// Writes `null_space.safetensors` (the merged factors, `NullSpaceFactorTensors`), then the metrics line.
    public func nullSpaceUpdated(_ update: NullSpaceRecord, factors: [LayerNullSpaceFactors]) throws {
        var writer = SafetensorsWriter(metadata: ["format": "promptcl-null-space", "method": methodName,
                                                  "task": String(update.task)])
        try NullSpaceFactorTensors.add(factors, to: &writer)
        try writer.write(to: directory.appendingPathComponent("null_space.safetensors"))
        try metrics.write("null_space", update)
        let channel = update.layers.map { String($0.channelNullity) }.joined(separator: ",")
        let token = update.layers.map { String($0.tokenNullity) }.joined(separator: ",")
        print("null space after task \(update.task + 1): \(update.samples) samples, statistics "
              + "\(ProgressLine.duration(update.statisticsSeconds)), SVD \(ProgressLine.duration(update.svdSeconds)); "
              + "nullity per layer: channels [\(channel)], prompt tokens [\(token)]")
    }

    /// Writes every task's keys to `task_keys.safetensors` (`image.task{t}`, `text.task{t}`: (c, E) each, F32) and
    /// a "task_keys" metrics line.
    public func taskKeysFitted(_ record: TaskKeysRecord, image: TaskKeys, text: TaskKeys) throws {
        var writer = SafetensorsWriter(metadata: ["format": "promptcl-task-keys", "method": methodName,
                                                  "tasks": String(image.taskCount)])
        try TaskKeysTensors.add(image: image, text: text, to: &writer)
        try writer.write(to: directory.appendingPathComponent("task_keys.safetensors"))
        try metrics.write("task_keys", record)
        print("task keys after task \(record.task + 1): \(record.centroids) centroids per modality from \(record.samples) "
              + "samples in \(ProgressLine.duration(record.seconds)) (k-means iterations: images \(record.imageIterations), "
              + "captions \(record.textIterations))")
    }

    /// Writes an "evaluation" metrics line and prints each seen task's score.
    public func evaluationFinished(_ record: EvaluationRecord) throws {
        evaluations.append(record)
        try metrics.write("evaluation", record)
        let label = record.kind == .retrieval ? "R@1 (mean of both directions)" : "accuracy"
        let mean = record.tasks.map(\.score).reduce(0, +) / Double(record.tasks.count)
        let perTask = record.tasks.map { String(format: "%.1f", $0.score) }.joined(separator: " ")
        var line = "evaluation after task \(record.task + 1)/\(taskCount): \(label) \(String(format: "%.2f", mean))% "
            + "(per task: \(perTask))"
        let identity = record.tasks.compactMap(\.taskIdentity)
        if identity.count == record.tasks.count {
            line += ", task identity \(identity.map { String(format: "%.1f", $0) }.joined(separator: " "))%"
        }
        print(line + " in \(ProgressLine.duration(record.seconds))")
    }

    /// Writes a "checkpoint" metrics line and prints where it went.
    public func checkpointWritten(_ record: CheckpointRecord) throws {
        try metrics.write("checkpoint", record)
        print("checkpoint \(CheckpointStore.folderName)/\(record.name) written (\(record.reason.rawValue), "
              + "step \(record.globalStep))")
    }

    /// Writes a "resume" metrics line and takes the evaluations of the tasks before the checkpoint (the summary
    /// covers the whole run).
    public func resumed(_ record: ResumeRecord, evaluations: [EvaluationRecord]) throws {
        self.evaluations = evaluations
        taskCount = record.taskCount
        try metrics.write("resume", record)
        let next = record.task == record.taskCount ? "the run had finished"
            : "task \(record.task + 1), epoch \(record.epoch + 1), step \(record.step + 1) next"
        print("resumed from \(record.checkpoint) (\(record.reason.rawValue)): \(next), \(record.globalStep) steps done; "
              + "written on \(record.savedRanks) rank(s), going on with \(record.ranks)")
    }

    /// Writes the "end" line with the run's wall time and, when the run evaluated, summary.json, report.md and
    /// recall.svg (`RunReport`); prints the final figures.
    public func finish() throws {
        let seconds = Date().timeIntervalSince(started)
        try metrics.write("end", RunEnd(seconds: seconds, steps: steps))
        guard !evaluations.isEmpty else { return }
        let info = RunInfo(method: methodName, dataset: config.data.dataset.rawValue, ranks: ranks, seed: config.seed,
                           globalBatch: config.train.globalBatch, seconds: seconds, settings: Self.settings(config),
                           forgettingVariant: config.evaluation.forgetting)
        let summary = try RunReport.write(records: evaluations, info: info, to: directory)
        let forgetting = summary.forgetting.map { String(format: "%.2f", $0) } ?? "-"
        print("final accuracy \(String(format: "%.2f", summary.finalAccuracy)), average accuracy "
              + "\(String(format: "%.2f", summary.averageAccuracy)), forgetting \(forgetting) "
              + "(\(summary.kind == .retrieval ? "R@1, mean of both directions" : "class-incremental top-1"), percent); "
              + "wrote \(RunReport.summaryFile), \(RunReport.markdownFile), \(RunReport.plotFile)")
    }

    /// The config keys report.md lists, in order.
    private static func settings(_ config: TrainingConfig) -> [RunInfo.Setting] {
        let kind = config.evaluation.resolvedKind(for: config.data.dataset)
        let reranked = config.method.name == .lpiP && kind == .retrieval
        return [.init("model", config.model.path.isEmpty ? "random weights ([model.random])" : config.model.path),
         .init("data.dataset", config.data.dataset.rawValue),
         .init("tasks.count", String(config.tasks.count)),
         .init("tasks.epochs", String(config.tasks.epochs)),
         .init("method.name", config.method.name.rawValue),
         .init("loss.kind", config.loss.kind.rawValue),
         .init("train.global_batch", String(config.train.globalBatch)),
         .init("optimizer", "\(config.optimizer.kind.rawValue), lr \(config.optimizer.lr)"),
         .init("schedule.kind", config.schedule.kind.rawValue),
         .init("evaluation.kind", kind.rawValue)]
            + (reranked ? [.init("evaluation.rerank_top_k", "\(config.evaluation.rerankTopK) (lpi-p: unfused ranking, "
                                 + "the top \(config.evaluation.rerankTopK) re-scored with fusion)")] : [])
            + [.init("seed", String(config.seed))]
    }

    private struct RunStart: Encodable {
        let method: String
        let ranks: Int
        let seed: Int
        let globalBatch: Int
        enum CodingKeys: String, CodingKey { case method, ranks, seed, globalBatch = "global_batch" }
    }

    private struct RunEnd: Encodable {
        let seconds: Double
        let steps: Int
    }
}
