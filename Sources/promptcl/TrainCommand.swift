import ArgumentParser
import Continual
import Distributed
import Foundation
import Numerics

/// `promptcl train --config FILE --out DIR [--set key=value ...]`: trains prompts task after task on every
/// rank of the job (run it under mpirun or srun for more than one).
///
/// Exit status: 0 done; 2 the run could not start (config, files, job shape, a checkpoint that cannot be
/// resumed; nothing was trained, and the message comes from the lowest rank that found the problem); 1 a rank
/// failed during training (its message on stderr, every rank ended by MPI_Abort); 75 stopped on SIGUSR1 or
/// SIGTERM after rank 0 wrote a checkpoint (`TrainingStopped`): run again with `--resume auto` (cluster/'s batch
/// scripts requeue the job on it).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train prompts task after task (data-parallel over the MPI ranks).",
        discussion: """
        DIR receives config.toml (the config as used), metrics.jsonl (one JSON line per step and task), \
        prompts.safetensors (the trained tensors by name) and checkpoints/ (one after every task, every \
        checkpoint.every_steps steps or checkpoint.every_minutes minutes, and on SIGUSR1/SIGTERM). Rank 0 prints a \
        progress line every train.log_every_steps steps. Exit status: 0 done, 1 failed, 2 could not start, 75 \
        stopped on a signal with a checkpoint written (requeue with --resume auto). Example: promptcl train \
        --config configs/synthetic-vpt.toml --out runs/vpt --set optimizer.lr=0.01
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

    @Option(help: ArgumentHelp("Continue a run: 'auto' (the newest complete checkpoint under DIR/checkpoints whose "
                               + "checksums verify, older ones if it does not; from the start when DIR has none) or "
                               + "the path of a checkpoint directory.", valueName: "auto|PATH"))
    var resume: String?

    mutating func run() throws {
        let group = ProcessGroup.world
        // From here on a stop signal is recorded, not fatal: one that comes during the set-up stops the run at its
        // first step, with a checkpoint.
        StopSignals.install()
        if let threads { ComputeThreads.set(threads) }
        let (configFile, outDirectory, overrides, resume) = (config, out, self.overrides, self.resume)
        let (trainer, recorder, chosen) = Self.agreeOnSetup(group) { () throws -> (Trainer, RunRecorder?, Checkpoint?) in
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
            let outURL = URL(fileURLWithPath: outDirectory)
            trainer.checkpoints = CheckpointStore(runDirectory: outURL)
            let chosen = try resume.flatMap { request in
                group.isRoot ? try ResumeChoice.checkpoint(request, out: outURL, config: config) : nil
            }
            // Last, so that a run refused above leaves no output directory behind.
            let recorder = group.isRoot
                ? try RunRecorder(directory: outURL, config: config, configTOML: try ConfigLoader.toml(config),
                                  ranks: group.size, continuing: resume != nil, print: { group.log0($0) })
                : nil
            trainer.observer = recorder
            group.log0("promptcl train: \(config.method.name.rawValue) on \(group.size) rank(s), "
                       + "\(trainer.parameters.count) trainable parameters, \(trainer.split.taskCount) tasks, "
                       + "global batch \(config.train.globalBatch) (\(trainer.localBatch) per rank)")
            return (trainer, recorder, chosen)
        }
        do {
            try trainer.run(resumingFrom: try Checkpoint.shared(chosen, group: group))
            try recorder?.finish()
        } catch let stop as TrainingStopped {
            group.log0("promptcl train: \(stop)")
            Foundation.exit(TrainingStopped.exitStatus)
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
