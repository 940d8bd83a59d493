import ArgumentParser
import Continual
import Distributed
import Foundation
import Numerics

/// `promptcl pretrain --config FILE --out DIR [--set key=value ...]`: trains every weight of a small CLIP from
/// random initialisation on the synthetic image-caption pairs with CLIP's contrastive loss, data-parallel on
/// every rank of the job (run it under mpirun or srun for more than one), and saves it as a Hugging Face
/// folder that `[model] path`, `promptcl embed --model` and transformers read.
///
/// Exit status: 0 done; 2 the run could not start (config, an output directory that is not empty, the job
/// shape; nothing was written, and the message comes from the lowest rank that found the problem); 1 a rank
/// failed during training (its message on stderr, every rank ended by MPI_Abort).
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain a small CLIP from random weights on the synthetic pairs (data-parallel over the MPI ranks).",
        discussion: """
        DIR (new or empty) receives the CLIP as a Hugging Face folder (config.json, model.safetensors, vocab.json, \
        merges.txt; rewritten after every epoch), pretrain.toml (the config as used), metrics.jsonl (one JSON line \
        per step, epoch and evaluation) and, last, evaluation.json (held-out zero-shot accuracy and R@1 of the \
        random initialisation and of the pretrained model). Example: promptcl pretrain --config \
        configs/pretrain-tiny.toml --out models/tiny-clip
        """)

    @Option(help: "Pretraining config (TOML); see configs/pretrain-tiny.toml.")
    var config: String

    @Option(help: "Output directory (created; must be empty if it exists).")
    var out: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. train.epochs=2 (repeatable).",
                                                          valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Compute threads per rank (default: OpenBLAS's setting, OPENBLAS_NUM_THREADS).")
    var threads: Int?

    mutating func run() throws {
        let group = ProcessGroup.world
        if let threads { ComputeThreads.set(threads) }
        let (configFile, outDirectory, overrides) = (config, out, self.overrides)
        let (pretrainer, recorder) = TrainCommand.agreeOnSetup(group, command: "pretrain") {
            () throws -> (Pretrainer, PretrainRecorder?) in
            let config = try ConfigLoader.load(PretrainConfig.self, file: URL(fileURLWithPath: configFile),
                                               overrides: overrides)
            let pretrainer: Pretrainer
            do {
                pretrainer = try Pretrainer(config: config, group: group)
            } catch let error as ConfigError {
                throw ConfigError.inSource(configFile, error)
            } catch let error as TrainingError {
                throw TrainingError("config \(configFile): \(error)")
            }
            // Last, so that a run refused above leaves no output directory behind.
            let recorder = group.isRoot
                ? try PretrainRecorder(directory: URL(fileURLWithPath: outDirectory), config: config,
                                       configTOML: try ConfigLoader.toml(config), print: { group.log0($0) })
                : nil
            pretrainer.observer = recorder
            let shape = config.model.random
            group.log0("promptcl pretrain: CLIP of \(pretrainer.model.weights.layout.count) weights (vision "
                       + "\(shape.visionLayers)x\(shape.visionWidth), \(shape.imageSize) px, patch \(shape.patchSize); "
                       + "text \(shape.textLayers)x\(shape.textWidth), context \(shape.contextLength); embedding "
                       + "\(shape.projectionDim)) on \(group.size) rank(s): \(config.data.samples) synthetic pairs x "
                       + "\(config.train.epochs) epoch(s), global batch \(config.train.globalBatch) "
                       + "(\(pretrainer.localBatch) per rank)")
            return (pretrainer, recorder)
        }
        do {
            try pretrainer.run()
            try recorder?.finish()
        } catch {
            group.abort(message: "\(error)")
        }
        group.log0("promptcl pretrain: model in \(outDirectory)")
    }
}
