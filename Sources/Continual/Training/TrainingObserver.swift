import CLIP
import Prompting

/// What a run reports as it goes; an error thrown here (a failed write) ends the run. The trainer calls these on every rank with the same values; rank 0's
/// observer writes them (`RunRecorder`), the others pass none.
public protocol TrainingObserver: AnyObject {
    func taskStarted(_ start: TaskStart) throws
    func stepFinished(_ record: StepRecord) throws
    /// The task's last step is done; `parameters` holds the trained values, `prompts` the values of every
    /// prompt site (nil for methods whose prompts are chosen per input).
    func taskFinished(_ end: TaskEnd, parameters: TrainableParameters, prompts: PromptSet?) throws
    /// NSP2's projectors were rebuilt after a task (`Trainer.updateNullSpace`) from `factors`, the merged
    /// statistics of every task so far.
    func nullSpaceUpdated(_ update: NullSpaceRecord, factors: [LayerNullSpaceFactors]) throws
    /// A per-task method's keys gained a task (`Trainer.fitTaskKeys`); `image` and `text` hold every task's.
    func taskKeysFitted(_ record: TaskKeysRecord, image: TaskKeys, text: TaskKeys) throws
    /// The evaluation after a task (`Trainer.evaluate(after:)`), over every task seen so far.
    func evaluationFinished(_ record: EvaluationRecord) throws
    /// Rank 0 wrote a checkpoint (`Trainer.saveCheckpoint`).
    func checkpointWritten(_ record: CheckpointRecord) throws
    /// The run goes on from a checkpoint; `evaluations` are those of the tasks before it.
    func resumed(_ record: ResumeRecord, evaluations: [EvaluationRecord]) throws
}

extension TrainingObserver {
    public func checkpointWritten(_ record: CheckpointRecord) throws {}
    public func resumed(_ record: ResumeRecord, evaluations: [EvaluationRecord]) throws {}
}

public struct TaskStart: Encodable, Sendable {
    public let task: Int
    public let taskCount: Int
    /// The task's domain under a domain split (`TaskSplit`); nil (not written) under a class split.
    public let domain: String?
    /// The dataset classes of the task, in class order.
    public let classes: [Int]
    public let samples: Int
    public let epochs: Int
    public let stepsPerEpoch: Int

    enum CodingKeys: String, CodingKey {
        case task, domain, classes, samples, epochs
        case taskCount = "task_count", stepsPerEpoch = "steps_per_epoch"
    }
}

/// One optimiser step, as written to metrics.jsonl (`"event": "step"`).
public struct StepRecord: Encodable, Sendable {
    public let task: Int
    public let epoch: Int
    /// Step within the epoch, from 0.
    public let step: Int
    public let stepsPerEpoch: Int
    /// Steps since the run started, from 0, and the run's total.
    public let globalStep: Int
    public let totalSteps: Int
    /// The global batch's loss (objective plus the method's own losses), the same on every rank.
    public let loss: Float
    public let lr: Float
    /// The global gradient's L2 norm before clipping.
    public let gradNorm: Float
    /// Samples in the global batch.
    public let images: Int
    /// Wall time of the step on this rank, and the part of it spent in the all-reduces of the gradients and the
    /// loss: the exposed communication (with buckets overlapped with the backward, the time inside their MPI calls
    /// and the final wait, not the time they ran behind the computation).
    public let stepSeconds: Double
    public let allreduceSeconds: Double
    /// Gradient buckets all-reduced during the backward (`train.overlap_allreduce`), and the fraction of the
    /// trained parameters they held; 0 when one all-reduce after the backward took them all.
    public let overlappedBuckets: Int
    public let overlappedFraction: Double

    enum CodingKeys: String, CodingKey {
        case task, epoch, step, loss, lr, images
        case stepsPerEpoch = "steps_per_epoch", globalStep = "global_step", totalSteps = "total_steps"
        case gradNorm = "grad_norm", stepSeconds = "step_seconds", allreduceSeconds = "allreduce_seconds"
        case overlappedBuckets = "overlapped_buckets", overlappedFraction = "overlapped_fraction"
    }
}

public struct TaskEnd: Encodable, Sendable {
    public let task: Int
    public let steps: Int
    public let seconds: Double
    /// Mean loss over the task's last epoch.
    public let lastEpochLoss: Float

    enum CodingKeys: String, CodingKey {
        case task, steps, seconds
        case lastEpochLoss = "last_epoch_loss"
    }
}

/// NSP2's null space after a task, as written to metrics.jsonl (`"event": "null_space"`).
public struct NullSpaceRecord: Encodable, Sendable {
    public struct Layer: Encodable, Sendable {
        /// The prompted vision layer.
        public let layer: Int
        /// Rows of Omega1 behind the merged factor (samples x image tokens x heads, all tasks so far).
        public let rows: Int
        /// Dimensions of the null spaces P1 (of D) and P2 (of L) project onto.
        public let channelNullity: Int
        public let tokenNullity: Int

        enum CodingKeys: String, CodingKey {
            case layer, rows
            case channelNullity = "channel_nullity", tokenNullity = "token_nullity"
        }
    }

    /// The task whose data was collected.
    public let task: Int
    public let samples: Int
    /// Wall time of the statistics pass and of the distributed SVDs, on this rank.
    public let statisticsSeconds: Double
    public let svdSeconds: Double
    public let layers: [Layer]

    enum CodingKeys: String, CodingKey {
        case task, samples, layers
        case statisticsSeconds = "statistics_seconds", svdSeconds = "svd_seconds"
    }
}

/// The k-means keys of a task, as written to metrics.jsonl (`"event": "task_keys"`).
public struct TaskKeysRecord: Encodable, Sendable {
    public let task: Int
    public let samples: Int
    /// Centroids per modality.
    public let centroids: Int
    /// Lloyd iterations and final inertia (sum of squared distances of the normalised rows), per modality.
    public let imageIterations: Int
    public let imageInertia: Double
    public let textIterations: Int
    public let textInertia: Double
    /// Wall time on this rank (frozen features and both k-means).
    public let seconds: Double

    enum CodingKeys: String, CodingKey {
        case task, samples, centroids, seconds
        case imageIterations = "image_iterations", imageInertia = "image_inertia"
        case textIterations = "text_iterations", textInertia = "text_inertia"
    }
}
