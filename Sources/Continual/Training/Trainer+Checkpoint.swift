import CLIP
import Foundation
import Numerics
import Prompting

/// Where a resumed run picks up: the position and, mid-task, the optimiser's state.
struct ResumePoint {
    let position: TrainingPosition
    let optimizer: OptimizerState?
}

extension Trainer {
    static let trainableFile = "trainable.safetensors"
    static let optimizerFile = "optimizer.safetensors"
    static let nullSpaceFile = "null_space.safetensors"
    static let taskKeysFile = "task_keys.safetensors"

    /// Rank 0 writes a checkpoint of the run at `position` (`optimizer`: the task's optimiser and the range it
    /// trains, nil at a task's end) into `checkpoints`; the other ranks only return its name. Nothing is
    /// collective here: the other ranks go on to the next step's all-reduce, which waits for rank 0.
    /// ```
    /// trainable.safetensors   every tensor of the trainable buffer by name (all tasks' prompts)
    /// optimizer.safetensors   first_moment, second_moment over the trained range   (mid-task only)
    /// null_space.safetensors  NSP2's merged factors and reference.<name>: L_LN's reference buffer (once built)
    /// task_keys.safetensors   per-task methods' keys of every finished task
    /// state.json, COMPLETE    CheckpointState
    /// ```
    @discardableResult
    func saveCheckpoint(_ reason: CheckpointReason, position: TrainingPosition,
                        optimizer: (optimizer: Optimizer, range: Range<Int>)?) throws -> String {
        let endOfTask = reason == .endOfTask ? position.task - 1 : nil
        let name = CheckpointStore.name(globalStep: position.globalStep, endOfTask: endOfTask)
        guard group.isRoot, let checkpoints else { return name }
        let configText = try ConfigLoader.toml(config)
        let optimizerState = optimizer?.optimizer.state
        let state = CheckpointState(
            reason: reason, config: configText, configCRC32: Checkpoint.crc32(Data(configText.utf8)),
            position: position,
            optimizer: optimizer.map { .init(kind: $0.optimizer.config.kind.rawValue, stepCount: $0.optimizer.stepCount,
                                             range: [$0.range.lowerBound, $0.range.upperBound]) },
            random: .init(seed: config.seed, samplerSeed: String(seeds.sampler(task: min(position.task, split.taskCount - 1))),
                          note: "every stream derives from seed and the position (RunSeeds); none advances between steps"),
            evaluations: evaluations, ranks: group.size,
            written: ISO8601DateFormatter().string(from: Date()), files: [:])
        try checkpoints.write(name: name, state: state, keepLast: config.checkpoint.keepLast) { folder in
            var trainable = SafetensorsWriter(metadata: ["format": "promptcl-trainable", "method": method.name])
            try parameters.addValues(to: &trainable)
            try trainable.write(to: folder.appendingPathComponent(Self.trainableFile))
            try injectedFailure?.killIfDue(rank: group.rank, globalStep: position.globalStep, during: .checkpointWrite)
            if let optimizerState {
                var writer = SafetensorsWriter(metadata: ["format": "promptcl-optimizer"])
                try writer.add("first_moment", shape: [optimizerState.firstMoment.count], floats: optimizerState.firstMoment)
                try writer.add("second_moment", shape: [optimizerState.secondMoment.count], floats: optimizerState.secondMoment)
                try writer.write(to: folder.appendingPathComponent(Self.optimizerFile))
            }
            if let nullSpace = method as? NullSpacePromptTuning, !nullSpace.factors.isEmpty {
                var writer = SafetensorsWriter(metadata: ["format": "promptcl-null-space", "method": method.name])
                try NullSpaceFactorTensors.add(nullSpace.factors, to: &writer)
                for entry in parameters.layout.entries {
                    try writer.add("reference." + entry.name, shape: entry.shape,
                                   floats: Array(nullSpace.referenceValues[entry.offset..<(entry.offset + entry.count)]))
                }
                try writer.write(to: folder.appendingPathComponent(Self.nullSpaceFile))
            }
            if let taskKeys, taskKeys.image.taskCount > 0 {
                var writer = SafetensorsWriter(metadata: ["format": "promptcl-task-keys", "method": method.name])
                try TaskKeysTensors.add(image: taskKeys.image, text: taskKeys.text, to: &writer)
                try writer.write(to: folder.appendingPathComponent(Self.taskKeysFile))
            }
        }
        try observer?.checkpointWritten(CheckpointRecord(name: name, reason: reason, globalStep: position.globalStep,
                                                         task: position.task))
        return name
    }

    /// Puts `checkpoint`'s state into this trainer (every rank, from the same broadcast bytes): the trainable
    /// values, NSP2's factors and reference, the task keys, the evaluations so far; returns where to go on.
    /// Throws naming the checkpoint when a file or tensor does not fit this run's method and model.
    func restore(_ checkpoint: Checkpoint) throws -> ResumePoint {
        let state = checkpoint.state, position = state.position
        func file(_ name: String) throws -> SafetensorsFile {
            try SafetensorsFile(bytes: try checkpoint.bytes(of: name), url: checkpoint.directory.appendingPathComponent(name))
        }
        guard (0...split.taskCount).contains(position.task), position.globalStep >= 0,
              position.epoch >= 0, position.epoch <= config.tasks.epochs, position.step >= 0 else {
            throw CheckpointError("checkpoint \(checkpoint.directory.path): position \(position) is outside this run's "
                                  + "\(split.taskCount) tasks of \(config.tasks.epochs) epochs")
        }
        let trainable = try file(Self.trainableFile)
        for entry in parameters.layout.entries {
            guard trainable.info(entry.name)?.shape == entry.shape else {
                throw CheckpointError("\(trainable.url.path): tensor \(entry.name) is missing or not of shape "
                                      + "\(entry.shape) (method \(method.name))")
            }
            try trainable.copyFloats(entry.name, into: UnsafeMutableBufferPointer(start: parameters.values[entry.name],
                                                                                  count: entry.count))
        }
        if let nullSpace = method as? NullSpacePromptTuning, position.task >= 1, split.taskCount > 1 {
            let saved = try file(Self.nullSpaceFile)
            let reference = ParameterBuffer(layout: parameters.layout)
            for entry in parameters.layout.entries {
                try saved.copyFloats("reference." + entry.name,
                                     into: UnsafeMutableBufferPointer(start: reference[entry.name], count: entry.count))
            }
            try nullSpace.adopt(try NullSpaceFactorTensors.read(saved, layers: nullSpace.layers), values: reference)
        }
        if taskKeys != nil, position.task >= 1 {
            taskKeys = try TaskKeysTensors.read(try file(Self.taskKeysFile), tasks: position.task,
                                                width: model.config.projectionDim)
        }
        var optimizer: OptimizerState?
        if let info = state.optimizer, position.task < split.taskCount {
            let range = method.trainedRange(task: position.task, in: parameters.layout)
            guard info.range == [range.lowerBound, range.upperBound], let kind = OptimizerKind(rawValue: info.kind) else {
                throw CheckpointError("checkpoint \(checkpoint.directory.path): optimizer \(info.kind) over \(info.range), "
                                      + "this run trains \(range) of task \(position.task) with \(config.optimizer.kind.rawValue)")
            }
            let moments = try file(Self.optimizerFile)
            optimizer = OptimizerState(kind: kind, stepCount: info.stepCount, firstMoment: try moments.floats("first_moment"),
                                       secondMoment: try moments.floats("second_moment"))
        }
        evaluations = state.evaluations
        try observer?.resumed(ResumeRecord(checkpoint: checkpoint.directory.path, reason: state.reason,
                                           globalStep: position.globalStep, task: position.task, epoch: position.epoch,
                                           step: position.step, taskCount: split.taskCount, ranks: group.size, savedRanks: state.ranks),
                              evaluations: state.evaluations)
        return ResumePoint(position: position, optimizer: optimizer)
    }
}
