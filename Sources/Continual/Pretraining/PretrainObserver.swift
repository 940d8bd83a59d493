import CLIP

/// What a pretraining reports as it goes; an error thrown here (a failed write) ends the run. The pretrainer
/// calls these on every rank with the same values; rank 0's observer writes them (`PretrainRecorder`), the
/// others pass none.
public protocol PretrainObserver: AnyObject {
    func started(_ start: PretrainStart) throws
    func stepFinished(_ record: PretrainStepRecord) throws
    /// An epoch's last step is done; `model` holds the weights after it.
    func epochFinished(_ end: PretrainEpochEnd, model: CLIPModel, tokenizer: CLIPTokenizer) throws
    /// The held-out figures of the model before training (`afterEpochs` 0) or after it.
    func evaluated(_ evaluation: PretrainEvaluation) throws
}

/// The run's shape, as written to metrics.jsonl (`"event": "pretrain"`).
public struct PretrainStart: Encodable, Sendable {
    public let ranks: Int
    /// Every weight of the CLIP (all trained).
    public let parameters: Int
    public let samples: Int
    public let heldOut: Int
    public let epochs: Int
    public let stepsPerEpoch: Int
    public let globalBatch: Int

    enum CodingKeys: String, CodingKey {
        case ranks, parameters, samples, epochs
        case heldOut = "held_out", stepsPerEpoch = "steps_per_epoch", globalBatch = "global_batch"
    }
}

/// One optimiser step, as written to metrics.jsonl (`"event": "step"`).
public struct PretrainStepRecord: Encodable, Sendable {
    public let epoch: Int
    /// Step within the epoch, from 0.
    public let step: Int
    public let stepsPerEpoch: Int
    /// Steps since the run started, from 0, and the run's total.
    public let globalStep: Int
    public let totalSteps: Int
    /// The contrastive loss of the global batch, the same on every rank.
    public let loss: Float
    public let lr: Float
    /// The global gradient's L2 norm before clipping.
    public let gradNorm: Float
    /// `logit_scale` after the step (the similarities are scaled by its exponential).
    public let logitScale: Float
    /// Pairs in the global batch.
    public let images: Int
    /// Wall time of the step on this rank, and the part of it spent in the gradient all-reduce.
    public let stepSeconds: Double
    public let allreduceSeconds: Double

    enum CodingKeys: String, CodingKey {
        case epoch, step, loss, lr, images
        case stepsPerEpoch = "steps_per_epoch", globalStep = "global_step", totalSteps = "total_steps"
        case gradNorm = "grad_norm", logitScale = "logit_scale", stepSeconds = "step_seconds"
        case allreduceSeconds = "allreduce_seconds"
    }
}

/// The end of an epoch, as written to metrics.jsonl (`"event": "epoch_end"`).
public struct PretrainEpochEnd: Encodable, Sendable {
    public let epoch: Int
    public let epochs: Int
    public let steps: Int
    public let seconds: Double
    /// Mean loss over the epoch's steps.
    public let meanLoss: Float

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, steps, seconds
        case meanLoss = "mean_loss"
    }
}
