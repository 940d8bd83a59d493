import CLIP
import Distributed
import Foundation
import Numerics
import Prompting

/// Data-parallel prompt training over the ranks of a `ProcessGroup` (DESIGN.md, "Distributed"), task after
/// task, with one result whatever the number of ranks:
/// ```
/// for task t, epoch e: ShardedSampler(task t's samples, global batch B, P ranks, seed_t).order(e)
///   each step, on rank r with its n = B / P samples:
///     gradients = 0
///     image = vision(pixels; prompts)  -> objective over the global batch -> backward into the gradients
///       (text-classifier: the class texts through the text prompts of task t too: `Trainer+Step`;
///        a `CoupledStepMethod`, LPI-P, runs its own towers, texts conditioned on each image: `Trainer+CoupledStep`)
///     all-reduce(gradients)                         over the flat buffer; per-layer buckets started during the
///                                                   vision backward where the method allows (train.overlap_allreduce)
///     loss += method.addPromptLoss(values)          replicated values: added once, after the all-reduce
///     clip(gradients, max_grad_norm);  optimizer.step(values, gradients, lr(t, e + step / steps),
///                                                     method.updateTransform)
///   after task t: per-task methods fit its task keys (Trainer+TaskKeys); the evaluation on the test split of
///   tasks 0...t (Trainer+Evaluation); NSP2, unless t is the last: updateNullSpace (Trainer+NullSpace)
/// ```
/// Rank 0 owns the schedule: every rank derives it from the config and checks it against rank 0's.
/// The optimiser (Adam's moments) starts afresh at each task; the schedule runs over each task's epochs.
/// Every rank holds the same values after every step; rank 0's observer writes the outputs.
public final class Trainer {
    public let config: TrainingConfig
    public let group: ProcessGroup
    public let parameters: TrainableParameters
    public let split: TaskSplit
    public let localBatch: Int
    public var injectedFailure: InjectedFailure?
    /// Receives the run's events (rank 0's `RunRecorder`); nil on the other ranks.
    public weak var observer: TrainingObserver?
    let model: CLIPModel
    let dataset: any ImageTextDataset
    /// The held-out split the evaluation after each task reads (`Trainer+Evaluation`).
    let testDataset: any ImageTextDataset
    /// The prompt method (with its state: NSP2's merged factors).
    public let method: any PromptMethod
    let seeds: RunSeeds
    /// The vision tower of `method`'s plan; built when first used (a coupled method never uses it).
    private(set) lazy var vision = VisionTower(model: model, capacity: localBatch, plan: method.visionPlan)
    let text: TextTower
    /// The towers without prompts, for methods that read each sample's frozen features (L2P's queries, the
    /// task keys of per-task methods); nil for the others. They only run forward (`TowerUse.inference`).
    let frozenVision: VisionTower?
    let frozenText: TextTower?
    /// Each modality's task keys, one task appended after each task is trained (per-task methods only).
    public internal(set) var taskKeys: (image: TaskKeys, text: TaskKeys)?
    let loader: BatchLoader
    let testLoader: BatchLoader
    /// The class texts of `loss.template` through `text`: the text classifier's rows, and the evaluation's.
    let classTexts: ClassTextEncoder
    let objective: TrainingObjective
    /// The step and class scores of a `CoupledStepMethod` (LPI-P: `Trainer+CoupledStep`); nil for the others.
    let coupled: CoupledStep?
    /// Where rank 0 writes checkpoints (`OUT/checkpoints`); nil: none are written (a stop signal still stops).
    public var checkpoints: CheckpointStore?
    /// The evaluations after each finished task (rank 0; empty on the others), kept in checkpoints.
    var evaluations: [EvaluationRecord] = []
    private var globalStep = 0
    /// When rank 0 last wrote a checkpoint (or the run started), for `checkpoint.every_minutes`.
    private var lastCheckpoint = Date()

    /// Builds the model, data, method and buffers of `config` for `group`'s rank; nothing is trained yet.
    /// Throws when the config does not fit the job (the global batch does not divide over the ranks) or a
    /// file cannot be read.
    public init(config: TrainingConfig, group: ProcessGroup) throws {
        try config.validate()
        guard config.train.globalBatch % group.size == 0 else {
            throw TrainingError("train.global_batch \(config.train.globalBatch) does not divide over \(group.size) "
                                + "ranks: choose a multiple of \(group.size)")
        }
        self.config = config
        self.group = group
        seeds = RunSeeds(root: UInt64(config.seed))
        localBatch = config.train.globalBatch / group.size
        let loaded = try LoadedModel(config.model, seed: seeds.model)
        model = loaded.model
        let visionConfig = model.config.vision
        let (train, test) = try Self.makeDatasets(config, imageSize: visionConfig.imageSize, seeds: seeds)
        let perDomain = config.tasks.split == .domainIncremental
        dataset = config.data.perClass > 0
            ? ClassSubset(train, perClass: config.data.perClass, seed: seeds.subset, perDomain: perDomain) : train
        testDataset = config.evaluation.perClass > 0
            ? ClassSubset(test, perClass: config.evaluation.perClass, seed: seeds.testSubset, perDomain: perDomain) : test
        split = try Self.makeSplit(config, train: train, seeds: seeds)
        var similarity: [Float]?
        if config.method.needsTaskNameSimilarity {
            let names = TaskNameSimilarity.names(split: split, classNames: dataset.classNames)
            similarity = TaskNameSimilarity.compute(
                names: names, model: model,
                loader: BatchLoader(dataset: dataset, tokenizer: loaded.tokenizer, capacity: names.count,
                                    contextLength: model.config.text.contextLength),
                tower: TextTower(model: model, capacity: names.count, plan: .none, use: .inference))
        }
        method = try config.method.makeMethod(MethodContext(model: model.config, taskCount: config.tasks.count,
                                                            taskNameSimilarity: similarity))
        if config.loss.kind == .linearHead && (!method.textPlan.sites.isEmpty || method.objectiveWeight != 1) {
            throw TrainingError("loss.kind \"linear-head\" gives no gradient to the text prompts of method "
                                + "\"\(method.name)\" (nor weighs its objective): use loss.kind = \"text-classifier\" "
                                + "or \"contrastive\"")
        }

        var layout = ParameterLayout()
        method.declare(into: &layout)
        let embedding = model.config.projectionDim, classCount = dataset.classNames.count
        if config.loss.kind == .linearHead {
            LinearHeadObjective.declare(into: &layout, classes: classCount, width: embedding)
        }
        parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: seeds.prompts)
        if config.loss.kind == .linearHead {
            LinearHeadObjective.initialize(parameters.values, classes: classCount, width: embedding, seed: seeds.head)
        }

        text = TextTower(model: model, capacity: localBatch, plan: method.textPlan)
        let usesFrozenFeatures = method.needsImageQueries || method.selectsByTask
        frozenVision = usesFrozenFeatures
            ? VisionTower(model: model, capacity: localBatch, plan: .none, use: .inference) : nil
        frozenText = method.selectsByTask ? TextTower(model: model, capacity: localBatch, plan: .none, use: .inference) : nil
        if method.selectsByTask {
            taskKeys = (TaskKeys(width: embedding), TaskKeys(width: embedding))
        }
        loader = BatchLoader(dataset: dataset, tokenizer: loaded.tokenizer, capacity: localBatch,
                             contextLength: model.config.text.contextLength)
        testLoader = BatchLoader(dataset: testDataset, tokenizer: loaded.tokenizer, capacity: localBatch,
                                 contextLength: model.config.text.contextLength)
        classTexts = ClassTextEncoder(tower: text, group: group, tokenizer: loaded.tokenizer, projectionDim: embedding,
                                      maxClasses: classCount)
        switch config.loss.kind {
        case .contrastive:
            objective = .contrastive(ContrastiveObjective(capacity: config.train.globalBatch, width: embedding,
                                                          gatherer: group, localCapacity: localBatch))
        case .textClassifier:
            objective = .textClassifier(TextClassifierObjective(width: embedding, capacity: localBatch,
                                                                maxClasses: classCount))
        case .linearHead:
            objective = .linearHead(LinearHeadObjective(width: embedding, capacity: localBatch, maxClasses: classCount))
        }
        if let coupledMethod = method as? any CoupledStepMethod {
            let contrastive = config.loss.kind == .contrastive
                ? ConditionedContrastiveObjective(capacity: config.train.globalBatch, width: embedding, gatherer: group,
                                                  localCapacity: localBatch) : nil
            coupled = CoupledStep(towers: try coupledMethod.makeCoupledTowers(model: model,
                                                                              startOfText: loaded.tokenizer.startOfText,
                                                                              capacity: localBatch),
                                  width: embedding, contrastive: contrastive,
                                  captions: contrastive == nil ? 0 : config.train.globalBatch, classes: classCount)
        } else {
            coupled = nil
        }
    }

    /// The training and test splits of `[data]`: the prepared directory `data.path` (its dataset and image size
    /// must be the config's), or the synthetic set when there is none.
    private static func makeDatasets(_ config: TrainingConfig, imageSize: Int,
                                     seeds: RunSeeds) throws -> (train: any ImageTextDataset, test: any ImageTextDataset) {
        let data = config.data
        guard !data.path.isEmpty else {
            guard data.dataset == .synthetic else {
                throw TrainingError("data.dataset \"\(data.dataset.rawValue)\" is read from prepared shards: run "
                                    + "`promptcl prepare --dataset \(data.dataset.rawValue) --source RAW --out DIR "
                                    + "--image-size \(imageSize)` and set data.path = \"DIR\"")
            }
            return (try SyntheticShapes(count: data.samples, imageSize: imageSize, seed: seeds.data),
                    try SyntheticShapes(count: config.evaluation.testSamples, imageSize: imageSize, seed: seeds.testData))
        }
        let directory = URL(fileURLWithPath: data.path)
        let train = try PreparedDataset(directory: directory, split: .train)
        guard train.manifest.dataset == data.dataset else {
            throw TrainingError("data.path \(data.path) holds \(train.manifest.dataset.rawValue), but data.dataset is "
                                + "\"\(data.dataset.rawValue)\"")
        }
        guard train.imageSize == imageSize else {
            throw TrainingError("data.path \(data.path) holds \(train.imageSize) px images, the model takes "
                                + "\(imageSize) px: prepare it again with --image-size \(imageSize)")
        }
        return (train, try PreparedDataset(directory: directory, split: .test))
    }

    /// The tasks of `tasks.split` over `train` (the unsubsampled training split): a class split along the prepared
    /// directory's recorded class order (or one drawn from the run's seed for the synthetic set), or one task per
    /// domain of the prepared directory. Throws naming the key and the directory when they do not fit.
    private static func makeSplit(_ config: TrainingConfig, train: any ImageTextDataset,
                                  seeds: RunSeeds) throws -> TaskSplit {
        let count = config.tasks.count
        switch config.tasks.split {
        case .classIncremental:
            do {
                if let prepared = train as? PreparedDataset {
                    return try TaskSplit(classOrder: prepared.classOrder, taskCount: count)
                }
                return try TaskSplit(classCount: train.classNames.count, taskCount: count, seed: seeds.classOrder)
            } catch {
                throw TrainingError("tasks.count \(count): \(error)")
            }
        case .domainIncremental:
            guard let prepared = train as? PreparedDataset else {
                preconditionFailure("TrainingConfig.validate refuses tasks.split \"domain\" on the synthetic set, "
                                    + "the only one read without data.path")
            }
            let manifest = prepared.directory.appendingPathComponent(PreparedFormat.manifestName).path
            guard !prepared.domainNames.isEmpty else {
                let why = prepared.manifest.version < 2
                    ? "was written by an older promptcl (format version \(prepared.manifest.version)) that did not "
                        + "record domains: run the same `promptcl prepare` again (it keeps the shards and adds them)"
                    : "records no domains (\(prepared.manifest.dataset.rawValue) has none; only DomainNet does)"
                throw TrainingError("tasks.split \"domain\": \(manifest) \(why)")
            }
            guard count == prepared.domainNames.count else {
                throw TrainingError("tasks.count \(count) must be the number of domains under tasks.split \"domain\": "
                                    + "data.path \(config.data.path) has \(prepared.domainNames.count) "
                                    + "(\(prepared.domainNames.joined(separator: ", ")))")
            }
            // The manifest's check (distinct names, at least one class) leaves this nothing to refuse.
            return try TaskSplit(domainNames: prepared.domainNames, classCount: prepared.classNames.count)
        }
    }

    /// The sampler of task `task`.
    private func sampler(task: Int) throws -> ShardedSampler {
        let indices = split.indices(ofTask: task, in: dataset)
        do {
            return try ShardedSampler(indices: indices, globalBatch: config.train.globalBatch,
                                      rankCount: group.size, seed: seeds.sampler(task: task))
        } catch {
            throw TrainingError("task \(task) (\(indices.count) samples), train.global_batch "
                                + "\(config.train.globalBatch): \(error)")
        }
    }

    /// Trains every task in order, from the start or from `checkpoint` (the same on every rank:
    /// `Checkpoint.shared`). Throws `TrainingStopped` on every rank, after rank 0 wrote a checkpoint, when a
    /// stop signal reached any rank.
    public func run(resumingFrom checkpoint: Checkpoint? = nil) throws {
        try agreeOnSchedule()
        let samplers = try (0..<split.taskCount).map { try sampler(task: $0) }
        let totalSteps = samplers.reduce(0) { $0 + $1.batchCount } * config.tasks.epochs
        let resume = try checkpoint.map { try restore($0) }
        globalStep = resume?.position.globalStep ?? 0
        lastCheckpoint = Date()
        StopSignals.install()
        for (task, sampler) in samplers.enumerated() where task >= resume?.position.task ?? 0 {
            try train(task: task, sampler: sampler, totalSteps: totalSteps,
                      resuming: resume?.position.task == task ? resume : nil)
            if method.selectsByTask { try fitTaskKeys(task: task, indices: sampler.indices) }
            if config.evaluation.kind != .none, let record = try evaluate(after: task) {
                evaluations.append(record)
                try observer?.evaluationFinished(record)
            }
            if task < samplers.count - 1, let nullSpace = method as? NullSpacePromptTuning {
                try updateNullSpace(after: task, method: nullSpace, indices: sampler.indices)
            }
            try saveCheckpoint(.endOfTask, position: TrainingPosition(task: task + 1, globalStep: globalStep),
                               optimizer: nil)
            lastCheckpoint = Date()
        }
    }

    /// Rank 0 owns the task schedule: its class order (and with it every task's classes), domain count and dataset
    /// sizes go to every rank, and a rank whose own differ stops the run (a node reading other data, or another
    /// config).
    private func agreeOnSchedule() throws {
        let mine = split.classOrder.map(Int64.init)
            + [Int64(split.domainNames.count), Int64(dataset.count), Int64(testDataset.count)]
        var rootValues = mine
        group.broadcast(&rootValues, root: 0)
        guard rootValues == mine else {
            throw TrainingError("rank \(group.rank) disagrees with rank 0 on the task schedule (class order, "
                                + "domain count and train/test sizes: \(mine) here, \(rootValues) on rank 0): every "
                                + "rank must read the same data with the same config")
        }
    }

    /// The dataset classes the classifier losses range over during `task`.
    func classesInPlay(task: Int) -> [Int] {
        Array(config.loss.classes == .task ? split.classes(ofTask: task) : split.classesSeen(upTo: task))
    }

    /// Trains `task`'s epochs, from their start or from `resuming`'s position; after every step, the
    /// checkpoint triggers (`checkpointIfDue`).
    private func train(task: Int, sampler: ShardedSampler, totalSteps: Int, resuming: ResumePoint?) throws {
        var position = resuming?.position ?? TrainingPosition(task: task, globalStep: globalStep)
        let started = Date().addingTimeInterval(-position.taskSeconds)
        let epochs = config.tasks.epochs, steps = sampler.batchCount
        let classes = classesInPlay(task: task)
        if resuming == nil {
            try observer?.taskStarted(TaskStart(task: task, taskCount: split.taskCount,
                                                domain: split.domainNames.isEmpty ? nil : split.domainNames[task],
                                                classes: Array(split.classes(ofTask: task)), samples: sampler.indices.count,
                                                epochs: epochs, stepsPerEpoch: steps))
        }
        try beginClassifier(task: task, classes: classes)
        let range = method.trainedRange(task: task, in: parameters.layout)
        let optimizer = Optimizer(config: config.optimizer, parameterCount: range.count)
        if let state = resuming?.optimizer { try optimizer.restore(state) }
        // A method with nothing to train (zero-shot CLIP) takes no steps.
        for epoch in position.epoch..<(range.isEmpty ? position.epoch : epochs) {
            let firstStep = position.step
            for (step, local) in sampler.localBatches(epoch: epoch, rank: group.rank).enumerated() where step >= firstStep {
                try injectedFailure?.killIfDue(rank: group.rank, globalStep: globalStep, during: .step)
                let progress = Double(epoch) + Double(step) / Double(steps)
                let lr = config.schedule.rate(base: config.optimizer.lr, epoch: progress, totalEpochs: Double(epochs))
                let outcome = try self.step(task: task, local: local, globalCount: config.train.globalBatch,
                                            classes: classes, optimizer: optimizer, range: range, lr: lr)
                guard outcome.loss.isFinite else {
                    throw TrainingError("the loss is \(outcome.loss) at task \(task), epoch \(epoch), step \(step): "
                                        + "stopping (lower optimizer.lr or set train.max_grad_norm)")
                }
                try observer?.stepFinished(StepRecord(
                    task: task, epoch: epoch, step: step, stepsPerEpoch: steps, globalStep: globalStep,
                    totalSteps: totalSteps, loss: outcome.loss, lr: lr, gradNorm: outcome.gradNorm,
                    images: config.train.globalBatch, stepSeconds: outcome.seconds,
                    allreduceSeconds: outcome.allreduceSeconds, overlappedBuckets: outcome.reduction.overlappedBuckets,
                    overlappedFraction: outcome.reduction.overlappedFraction))
                globalStep += 1
                position.globalStep = globalStep
                position.epochLossSum += outcome.loss
                position.step = step + 1
                if position.step == steps {
                    position.lastEpochLoss = position.epochLossSum / Float(steps)
                    (position.epoch, position.step, position.epochLossSum) = (epoch + 1, 0, 0)
                }
                position.taskSeconds = Date().timeIntervalSince(started)
                try checkpointIfDue(position, optimizer: optimizer, range: range)
            }
        }
        try observer?.taskFinished(TaskEnd(task: task, steps: range.isEmpty ? 0 : steps * epochs,
                                           seconds: Date().timeIntervalSince(started),
                                           lastEpochLoss: position.lastEpochLoss),
                                   parameters: parameters, prompts: promptSet(task: task))
    }

    /// After a step, at `position`: every rank learns whether a stop signal reached any rank and whether rank 0's
    /// `checkpoint.every_minutes` clock ran out (one all-reduce of two integers); on a stop, rank 0 writes a
    /// checkpoint, all ranks meet, and all throw `TrainingStopped`; otherwise a checkpoint is written when
    /// `checkpoint.every_steps` divides the global step or the minutes ran out.
    private func checkpointIfDue(_ position: TrainingPosition, optimizer: Optimizer, range: Range<Int>) throws {
        let settings = config.checkpoint
        let minutesUp = group.isRoot && settings.everyMinutes > 0
            && Date().timeIntervalSince(lastCheckpoint) >= settings.everyMinutes * 60
        var flags: [Int32] = [StopSignals.received, minutesUp ? 1 : 0]
        group.allreduce(&flags, .max)
        let reason: CheckpointReason
        if flags[0] != 0 {
            reason = .signal
        } else if settings.everySteps > 0 && position.globalStep % settings.everySteps == 0 {
            reason = .everySteps
        } else if flags[1] != 0 {
            reason = .everyMinutes
        } else {
            return
        }
        let name = try saveCheckpoint(reason, position: position, optimizer: (optimizer, range))
        lastCheckpoint = Date()
        if reason == .signal {
            group.barrier()
            throw TrainingStopped(signal: flags[0], checkpoint: checkpoints.map { $0.directory.appendingPathComponent(name).path } ?? "(none: no output directory)",
                                  globalStep: position.globalStep)
        }
    }

    /// The prompts every site of both towers holds for `task`'s samples, as `embed --prompts` reads them;
    /// nil when a site's values differ per sample (chosen per input: L2P; fused with each image: LPI-P) and so have
    /// no one value to write.
    public func promptSet(task: Int) -> PromptSet? {
        guard !method.needsImageQueries && coupled == nil else { return nil }
        method.prepare(values: parameters.values, batch: PromptBatch(count: 1, task: task))
        func materialise(_ values: [PromptValues], _ plan: PromptPlan, width: Int) -> [[Float]]? {
            guard values.allSatisfy({ $0.batchStride == 0 }) else { return nil }
            return zip(values, plan.sites).map { Array(UnsafeBufferPointer(start: $0.pointer, count: $1.tokens * width)) }
        }
        guard let vision = materialise(method.visionPrompts(parameters.values), method.visionPlan,
                                       width: model.config.vision.encoder.hiddenSize),
              let text = materialise(method.textPrompts(parameters.values), method.textPlan,
                                     width: model.config.text.encoder.hiddenSize) else { return nil }
        return PromptSet(vision: method.visionPlan, text: method.textPlan, visionValues: vision, textValues: text)
    }

    /// Readies the text classifier (if it is the objective) for `task`: the class texts of `classes` to embed;
    /// their embeddings once now when the method has no text prompts (they stay frozen), else every step
    /// through the prompts being trained (`Trainer+Step`).
    func beginClassifier(task: Int, classes: [Int]) throws {
        guard case .textClassifier(let classifier) = objective else { return }
        classTexts.setTexts(classes.map(classText))
        if method.textPlan.sites.isEmpty {
            classifier.setClasses(textEmbeddings: try classTexts.forward(prompts: [], method: method.name),
                                  count: classes.count)
        }
    }

    /// `loss.template` for dataset class `index`.
    func classText(_ index: Int) -> String {
        config.loss.template.replacingOccurrences(of: "{class}", with: dataset.classNames[index])
    }

    /// The text embeddings (C, E) of `loss.template` for each class of `classes`, in order, through the
    /// method's text prompts of `promptTask`: what the text classifier trains against during `promptTask`.
    func classTextEmbeddings(_ classes: [Int], promptTask: Int) throws -> [Float] {
        if !method.textPlan.sites.isEmpty {
            method.prepare(values: parameters.values, batch: PromptBatch(count: 1, task: promptTask))
        }
        classTexts.setTexts(classes.map(classText))
        let embeddings = try classTexts.forward(prompts: method.textPrompts(parameters.values), method: method.name)
        return Array(UnsafeBufferPointer(start: embeddings, count: classes.count * model.config.projectionDim))
    }

    /// The frozen image embeddings (n, E) of the pixels `loader` holds: L2P's queries.
    func imageQueries(count: Int) -> UnsafePointer<Float> {
        frozenImageEmbeddings(pixels: loader.pixels, count: count)
    }

    /// The frozen image embeddings (n, E) of `pixels` (n, 3, S, S), valid until the frozen tower runs again.
    func frozenImageEmbeddings(pixels: UnsafePointer<Float>, count: Int) -> UnsafePointer<Float> {
        guard let frozenVision else { preconditionFailure("method \(method.name) reads frozen features but has no frozen tower") }
        return frozenVision.forward(pixels: pixels, prompts: [], batch: count)
    }
}
