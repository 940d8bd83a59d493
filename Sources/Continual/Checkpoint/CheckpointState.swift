import Foundation

/// `state.json` of a checkpoint: what the tensors files do not hold, and the checksum of every file.
/// ```json
/// { "format": "promptcl-checkpoint", "version": 1, "reason": "every_steps",
///   "config": "<the run's config.toml>", "config_crc32": "1a2b3c4d",
///   "position": { "task": 1, "epoch": 0, "step": 3, "global_step": 9, ... },       TrainingPosition
///   "optimizer": { "kind": "adam", "step_count": 3, "range": [0, 128] },          null at a task's start
///   "random": { "seed": 7, "sampler_seed": ..., "note": ... },
///   "evaluations": [ ... ],                                                      EvaluationRecord, every task so far
///   "ranks": 2, "written": "2026-11-23T10:00:00Z",
///   "files": { "trainable.safetensors": { "bytes": 1234, "crc32": "..." }, ... } }
/// ```
/// The optimiser's moments are in `optimizer.safetensors` (`first_moment`, `second_moment`: F32 over `range` of
/// the trainable buffer); `ranks` is informational: nothing in a checkpoint is per rank, so it resumes on any
/// rank count.
public struct CheckpointState: Codable, Equatable, Sendable {
    public static let formatName = "promptcl-checkpoint"
    public static let currentVersion = 1

    /// The optimiser of the task in progress (the moments live in optimizer.safetensors).
    public struct OptimizerInfo: Codable, Equatable, Sendable {
        public var kind: String
        public var stepCount: Int
        /// The part of the trainable buffer it acts on (`PromptMethod.trainedRange`), [lower, upper).
        public var range: [Int]

        enum CodingKeys: String, CodingKey {
            case kind, range
            case stepCount = "step_count"
        }
    }

    /// The run's random streams: all derived from `seed` and the position, none advanced between steps.
    public struct RandomInfo: Codable, Equatable, Sendable {
        public var seed: Int
        /// The seed of the current task's sampler (its order of epoch e is a function of this and e).
        public var samplerSeed: String
        public var note: String

        enum CodingKeys: String, CodingKey {
            case seed, note
            case samplerSeed = "sampler_seed"
        }
    }

    /// A file's size and CRC-32 (8 hex digits), checked before a resume reads it.
    public struct FileChecksum: Codable, Equatable, Sendable {
        public var bytes: Int
        public var crc32: String
    }

    public var format = Self.formatName
    public var version = Self.currentVersion
    public var reason: CheckpointReason
    /// The config the run used (config.toml's text), and its CRC-32.
    public var config: String
    public var configCRC32: String
    public var position: TrainingPosition
    public var optimizer: OptimizerInfo?
    public var random: RandomInfo
    public var evaluations: [EvaluationRecord]
    public var ranks: Int
    public var written: String
    public var files: [String: FileChecksum]

    enum CodingKeys: String, CodingKey {
        case format, version, reason, config, position, optimizer, random, evaluations, ranks, written, files
        case configCRC32 = "config_crc32"
    }
}
