import CLIP
import Foundation

/// Rank 0's record of a pretraining in its output directory (`--out DIR`):
/// ```
/// DIR/pretrain.toml      the config as used, every key
/// DIR/metrics.jsonl      one line per event: pretrain, held_out (before training), step, epoch_end, ...,
///                        held_out (after), end                                                (MetricsLog)
/// DIR/config.json, model.safetensors, vocab.json, merges.txt
///                        the CLIP as a Hugging Face folder (`CLIPModel.save`), rewritten after every epoch,
///                        so an interrupted run leaves the model of its last finished epoch
/// DIR/evaluation.json    {"random_init": PretrainEvaluation, "pretrained": PretrainEvaluation}, written last:
///                        its presence marks a finished pretraining
/// ```
/// and the progress lines on stdout. A directory that exists and is not empty is refused, so nothing is
/// overwritten.
public final class PretrainRecorder: PretrainObserver {
    public let directory: URL
    private let metrics: MetricsLog
    private let logEverySteps: Int
    private let print: (String) -> Void
    private var initial: PretrainEvaluation?
    private var final: PretrainEvaluation?
    private var windowImages = 0
    private var windowSeconds = 0.0
    private var totalSeconds = 0.0
    private var steps = 0
    private let started = Date()

    /// Creates `directory` (refusing one that holds anything), writes pretrain.toml and starts metrics.jsonl.
    public init(directory: URL, config: PretrainConfig, configTOML: String, print: @escaping (String) -> Void) throws {
        self.directory = directory
        self.print = print
        logEverySteps = config.train.logEverySteps
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw TrainingError("\(directory.path) is a file, not a directory: choose another --out")
            }
            let contents: [String]
            do {
                contents = try files.contentsOfDirectory(atPath: directory.path)
            } catch {
                throw TrainingError("\(directory.path): cannot list the output directory: \(error.localizedDescription)")
            }
            guard contents.isEmpty else {
                throw TrainingError("\(directory.path) already exists and is not empty (\(contents.count) entries): "
                                    + "choose another --out or move it away; nothing was written")
            }
        }
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(configTOML.utf8).write(to: directory.appendingPathComponent("pretrain.toml"), options: .atomic)
        } catch {
            throw TrainingError("\(directory.path): cannot write the output directory: \(error.localizedDescription)")
        }
        metrics = try MetricsLog(url: directory.appendingPathComponent("metrics.jsonl"))
    }

    public func started(_ start: PretrainStart) throws {
        try metrics.write("pretrain", start)
    }

    public func stepFinished(_ record: PretrainStepRecord) throws {
        try metrics.write("step", record)
        steps += 1
        totalSeconds += record.stepSeconds
        windowSeconds += record.stepSeconds
        windowImages += record.images
        guard (record.globalStep + 1) % logEverySteps == 0 || record.step == record.stepsPerEpoch - 1 else { return }
        let remaining = Double(record.totalSteps - record.globalStep - 1) * totalSeconds / Double(steps)
        let epochs = record.totalSteps / record.stepsPerEpoch
        print("epoch \(record.epoch + 1)/\(epochs)  step \(record.step + 1)/\(record.stepsPerEpoch)  "
              + "loss \(String(format: "%.4f", record.loss))  lr \(String(format: "%.2e", record.lr))  "
              + "scale \(String(format: "%.1f", exp(record.logitScale)))  "
              + "\(String(format: "%.1f", Double(windowImages) / max(windowSeconds, 1e-9))) img/s  "
              + "ETA \(ProgressLine.duration(remaining))")
        windowImages = 0
        windowSeconds = 0
    }

    public func epochFinished(_ end: PretrainEpochEnd, model: CLIPModel, tokenizer: CLIPTokenizer) throws {
        try model.save(to: directory, tokenizer: tokenizer)
        try metrics.write("epoch_end", end)
        print("epoch \(end.epoch + 1)/\(end.epochs) done in \(ProgressLine.duration(end.seconds)): mean loss "
              + "\(String(format: "%.4f", end.meanLoss)); model saved")
    }

    public func evaluated(_ evaluation: PretrainEvaluation) throws {
        try metrics.write("held_out", evaluation)
        func percent(_ value: Double) -> String { String(format: "%5.1f%%", value) }
        let rows: [(String, KeyPath<PretrainEvaluation, Double>, KeyPath<PretrainEvaluation, Double>)] = [
            ("zero-shot accuracy, \"\(Pretrainer.zeroShotTemplate)\"", \.zeroShotAccuracy, \.chanceZeroShotAccuracy),
            ("zero-shot accuracy, nearest caption", \.zeroShotCaptionAccuracy, \.chanceZeroShotAccuracy),
            ("R@1 image->text", \.imageToTextR1, \.chanceR1),
            ("R@1 text->image", \.textToImageR1, \.chanceR1),
        ]
        func label(_ text: String) -> String { "  " + text + String(repeating: " ", count: max(0, 44 - text.count)) }
        guard let initial else {
            initial = evaluation
            print("held-out pairs (\(evaluation.pairs)), random initialisation:")
            for (name, value, chance) in rows {
                print(label(name) + "\(percent(evaluation[keyPath: value]))  (chance \(percent(evaluation[keyPath: chance])))")
            }
            return
        }
        final = evaluation
        print("held-out pairs (\(evaluation.pairs)) after \(evaluation.afterEpochs) epoch(s), against the random "
              + "initialisation:")
        for (name, value, chance) in rows {
            print(label(name) + "\(percent(evaluation[keyPath: value]))  (random init "
                  + "\(percent(initial[keyPath: value])), chance \(percent(evaluation[keyPath: chance])))")
        }
    }

    /// Writes evaluation.json (the mark of a finished run) and the "end" line with the run's wall time.
    public func finish() throws {
        guard let initial, let final else { preconditionFailure("finish before both evaluations") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = directory.appendingPathComponent("evaluation.json")
        do {
            try encoder.encode(["random_init": initial, "pretrained": final]).write(to: url, options: .atomic)
        } catch {
            throw TrainingError("\(url.path): cannot write: \(error.localizedDescription)")
        }
        try metrics.write("end", RunEnd(seconds: Date().timeIntervalSince(started), steps: steps))
    }

    private struct RunEnd: Encodable {
        let seconds: Double
        let steps: Int
    }
}
