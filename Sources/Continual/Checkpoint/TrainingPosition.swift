/// Where a run stands between two optimiser steps: everything the loop needs, beyond the tensors, to go on
/// exactly as if it had never stopped.
/// ```
/// next step to run:  task, epoch, step (within the epoch)       epoch == tasks.epochs: the task's steps are done,
///                                                               its end-of-task work (keys, evaluation, null
///                                                               space) is not
/// globalStep         steps taken since the run started
/// epochLossSum       the losses of `epoch`'s steps so far, summed in step order (the epoch's mean loss is
///                    this / steps, so a resumed epoch reports the same bits)
/// lastEpochLoss      the mean loss of the task's last finished epoch
/// taskSeconds        training wall time of `task` before the checkpoint (for its task_end line)
/// ```
/// No random state appears here because the run holds none between steps: the sampler's order of each epoch,
/// the prompts' initialisation and the k-means seeds all derive from the config's `seed` and the position
/// (`RunSeeds`).
public struct TrainingPosition: Codable, Equatable, Sendable {
    public var task: Int
    public var epoch: Int
    public var step: Int
    public var globalStep: Int
    public var epochLossSum: Float
    public var lastEpochLoss: Float
    public var taskSeconds: Double

    public init(task: Int, epoch: Int = 0, step: Int = 0, globalStep: Int, epochLossSum: Float = 0,
                lastEpochLoss: Float = 0, taskSeconds: Double = 0) {
        self.task = task
        self.epoch = epoch
        self.step = step
        self.globalStep = globalStep
        self.epochLossSum = epochLossSum
        self.lastEpochLoss = lastEpochLoss
        self.taskSeconds = taskSeconds
    }

    enum CodingKeys: String, CodingKey {
        case task, epoch, step
        case globalStep = "global_step", epochLossSum = "epoch_loss_sum", lastEpochLoss = "last_epoch_loss"
        case taskSeconds = "task_seconds"
    }
}
