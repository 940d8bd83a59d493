import CLIP
import Distributed
import Foundation
import Numerics

/// Full-weight contrastive pretraining of a CLIP from random weights on the synthetic pairs, data-parallel over
/// the ranks of a `ProcessGroup` (DESIGN.md, "Distributed"), with one result whatever the number of ranks:
/// ```
/// weights = CLIPModel.initialised(config, seed)            transformers' scaled initialisation; every weight is
///                                                          trained (one flat buffer)
/// for epoch e, step s: ShardedSampler(pairs, global batch B, P ranks, seed).order(e)
///   on rank r with its n = B / P pairs:
///     gradients = 0
///     I = vision(pixels), T = text(captions)              both towers, weight gradients accumulated
///     loss = CLIP loss over the global batch (ContrastiveObjective: all-gather of I and T), backward of the
///            local rows through both towers: the ranks' gradients sum to the global batch's gradient
///     all-reduce(gradients)                                one call over the whole buffer
///     gradients[logit_scale] += dloss/dlogit_scale         global already: added once, after the all-reduce
///     clip(gradients, max_grad_norm)
///     AdamW(weights, gradients, lr(e + s / steps))         decay on weight matrices only (decayedRanges)
///     logit_scale = clamp(logit_scale, 0, ln 100)          as CLIP
/// ```
/// Every rank holds the same weights after every step; rank 0's observer writes the outputs. The held-out
/// evaluation (`evaluate`) runs before the first step and after the last.
public final class Pretrainer {
    public let config: PretrainConfig
    public let group: ProcessGroup
    /// The CLIP being trained; its weights change in place.
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let localBatch: Int
    /// Receives the run's events (rank 0's `PretrainRecorder`); nil on the other ranks.
    public weak var observer: PretrainObserver?
    let gradients: ParameterBuffer
    let vision: VisionTower
    let text: TextTower
    let objective: ContrastiveObjective
    let dataset: SyntheticShapes
    let heldOut: SyntheticShapes
    let loader: BatchLoader
    let heldOutLoader: BatchLoader
    let sampler: ShardedSampler
    let optimizer: Optimizer

    /// The largest `logit_scale`: CLIP clamps the scale exp(logit_scale) at 100.
    static let maximumLogitScale = Float(log(100.0))

    /// Builds the model, data and buffers of `config` for `group`'s rank; nothing is trained yet. Throws when
    /// the global batch does not divide over the ranks.
    public init(config: PretrainConfig, group: ProcessGroup) throws {
        try config.validate()
        guard config.train.globalBatch % group.size == 0 else {
            throw TrainingError("train.global_batch \(config.train.globalBatch) does not divide over \(group.size) "
                                + "ranks: choose a multiple of \(group.size)")
        }
        self.config = config
        self.group = group
        let seeds = PretrainSeeds(root: UInt64(config.seed))
        localBatch = config.train.globalBatch / group.size
        tokenizer = try CLIPTokenizer.bundled()
        let clipConfig = config.model.random.clipConfig(vocabularySize: tokenizer.vocabularySize,
                                                        startOfText: Int(tokenizer.startOfText),
                                                        endOfText: Int(tokenizer.endOfText))
        model = CLIPModel.initialised(config: clipConfig, seed: seeds.model)
        gradients = model.makeGradientBuffer()
        vision = VisionTower(model: model, capacity: localBatch, weightGradients: gradients)
        text = TextTower(model: model, capacity: localBatch, weightGradients: gradients)
        objective = ContrastiveObjective(capacity: config.train.globalBatch, width: clipConfig.projectionDim,
                                         gatherer: group, localCapacity: localBatch)
        let imageSize = clipConfig.vision.imageSize, context = clipConfig.text.contextLength
        dataset = try SyntheticShapes(count: config.data.samples, imageSize: imageSize, seed: seeds.data)
        heldOut = try SyntheticShapes(count: config.data.heldOut, imageSize: imageSize, seed: seeds.heldOut)
        loader = BatchLoader(dataset: dataset, tokenizer: tokenizer, capacity: localBatch, contextLength: context)
        heldOutLoader = BatchLoader(dataset: heldOut, tokenizer: tokenizer, capacity: localBatch, contextLength: context)
        do {
            sampler = try ShardedSampler(indices: Array(0..<dataset.count), globalBatch: config.train.globalBatch,
                                         rankCount: group.size, seed: seeds.sampler)
        } catch {
            throw TrainingError("data.samples \(dataset.count), train.global_batch \(config.train.globalBatch): \(error)")
        }
        optimizer = Optimizer(config: config.optimizer, parameterCount: model.weights.layout.count,
                              decayedRanges: Self.decayedRanges(model.weights.layout))
    }

    /// Where weight decay applies: the weight matrices (rank >= 2) of the attention and MLP layers, the patch
    /// convolution and both projections. Not the biases, LayerNorm gains and shifts, the token, position and
    /// class embeddings, nor `logit_scale` (CLIP decays "all weights that are not gains or biases"; embeddings
    /// are left out too, as the token table's rows of unseen words would only shrink). Adjacent tensors merge.
    public static func decayedRanges(_ layout: ParameterLayout) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        for entry in layout.entries where entry.shape.count >= 2
            && !entry.name.hasSuffix("token_embedding.weight") && !entry.name.hasSuffix("position_embedding.weight") {
            let range = entry.offset..<(entry.offset + entry.count)
            if let last = ranges.last, last.upperBound == range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
            } else {
                ranges.append(range)
            }
        }
        return ranges
    }

    /// Evaluates the random model, trains every epoch, evaluates the result; returns both evaluations.
    @discardableResult
    public func run() throws -> (initial: PretrainEvaluation, final: PretrainEvaluation) {
        let steps = sampler.batchCount, epochs = config.train.epochs
        try observer?.started(PretrainStart(ranks: group.size, parameters: model.weights.layout.count,
                                            samples: dataset.count, heldOut: heldOut.count, epochs: epochs,
                                            stepsPerEpoch: steps, globalBatch: config.train.globalBatch))
        let initial = evaluate(afterEpochs: 0)
        try observer?.evaluated(initial)
        var globalStep = 0
        for epoch in 0..<epochs {
            let started = Date()
            var epochLoss: Float = 0
            for (step, local) in sampler.localBatches(epoch: epoch, rank: group.rank).enumerated() {
                let progress = Double(epoch) + Double(step) / Double(steps)
                let lr = config.schedule.rate(base: config.optimizer.lr, epoch: progress, totalEpochs: Double(epochs))
                let outcome = self.step(local: local, lr: lr)
                guard outcome.loss.isFinite else {
                    throw TrainingError("the loss is \(outcome.loss) at epoch \(epoch), step \(step): stopping "
                                        + "(lower optimizer.lr or train.max_grad_norm); the model of the last finished "
                                        + "epoch is kept")
                }
                epochLoss += outcome.loss
                try observer?.stepFinished(PretrainStepRecord(
                    epoch: epoch, step: step, stepsPerEpoch: steps, globalStep: globalStep, totalSteps: steps * epochs,
                    loss: outcome.loss, lr: lr, gradNorm: outcome.gradNorm, logitScale: model.logitScale,
                    images: config.train.globalBatch, stepSeconds: outcome.seconds,
                    allreduceSeconds: outcome.allreduceSeconds))
                globalStep += 1
            }
            try observer?.epochFinished(PretrainEpochEnd(epoch: epoch, epochs: epochs, steps: steps,
                                                         seconds: Date().timeIntervalSince(started),
                                                         meanLoss: epochLoss / Float(steps)),
                                        model: model, tokenizer: tokenizer)
        }
        let final = evaluate(afterEpochs: epochs)
        try observer?.evaluated(final)
        return (initial, final)
    }
}
