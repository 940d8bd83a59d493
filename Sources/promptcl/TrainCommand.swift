import ArgumentParser
import Continual
import Distributed
import Foundation
import Numerics

/// `promptcl train --config FILE --out DIR [--set key=value ...]`: trains prompts task after task on every
/// rank of the job (run it under mpirun or srun for more than one).
///
/// Exit status: 0 done; 2 the run could not start (config, files, job shape; nothing was trained, and the
/// message comes from the lowest rank that found the problem); 1 a rank failed during training (its
/// message on stderr, every rank ended by MPI_Abort).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train prompts task after task (data-parallel over the MPI ranks).",
        discussion: """
        DIR receives config.toml (the config as used), metrics.jsonl (one JSON line per step and task) and \
        prompts.safetensors (the trained tensors by name). Rank 0 prints a progress line every \
        train.log_every_steps steps. Example: promptcl train --config configs/synthetic-vpt.toml --out runs/vpt \
        --set optimizer.lr=0.01
        """)

    @Option(help: "Run config (TOML); see configs/.")
    var config: String

    @Option(help: "Output directory (created; must not hold a run already).")
    var out: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. optimizer.lr=0.01 (repeatable).",
                                                          valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Compute threads per rank (default: OpenBLAS's setting, OPENBLAS_NUM_THREADS).")
    var threads: Int?

    mutating func run() throws {
        let group = ProcessGroup.world
        if let threads { ComputeThreads.set(threads) }
        let (configFile, outDirectory, overrides) = (config, out, self.overrides)
        let (trainer, recorder) = Self.agreeOnSetup(group) { () throws -> (Trainer, RunRecorder?) in
            let config = try ConfigLoader.load(file: URL(fileURLWithPath: configFile), overrides: overrides)
            let trainer: Trainer
            do {
                trainer = try Trainer(config: config, group: group)
            } catch let error as ConfigError {
                throw ConfigError.inSource(configFile, error)
            } catch let error as TrainingError {
                throw TrainingError("config \(configFile): \(error)")
            }
            trainer.injectedFailure = try InjectedFailure.fromEnvironment()
            // Last, so that a run refused above leaves no output directory behind.
            let recorder = group.isRoot
                ? try RunRecorder(directory: URL(fileURLWithPath: outDirectory), config: config,
                                  configTOML: try ConfigLoader.toml(config), ranks: group.size,
                                  print: { group.log0($0) })
                : nil
            trainer.observer = recorder
            group.log0("promptcl train: \(config.method.name.rawValue) on \(group.size) rank(s), "
                       + "\(trainer.parameters.count) trainable parameters, \(trainer.split.taskCount) tasks, "
                       + "global batch \(config.train.globalBatch) (\(trainer.localBatch) per rank)")
            return (trainer, recorder)
        }
        do {
            try trainer.run()
            try recorder?.finish()
        } catch {
            group.abort(message: "\(error)")
        }
        group.log0("promptcl train: outputs in \(outDirectory)")
    }

    /// Runs the set-up on every rank and agrees on its outcome before anything collective happens: if any
    /// rank failed, the lowest such rank prints its error (after `promptcl COMMAND:`) and every rank exits with
    /// status 2.
    static func agreeOnSetup<T>(_ group: ProcessGroup, command: String = "train", _ body: () throws -> T) -> T {
        let result = Result { try body() }
        let failed: Int32 = (try? result.get()) == nil ? Int32(group.rank) : Int32(group.size)
        let first = group.allreduce(failed, .min)
        switch result {
        case .success(let value) where first == Int32(group.size):
            return value
        case .failure(let error) where first == Int32(group.rank):
            fputs("promptcl \(command): \(error)\n", stderr)
        default:
            break
        }
        Foundation.exit(2)
    }
}
