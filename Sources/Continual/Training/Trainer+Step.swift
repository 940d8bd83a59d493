import CLIP
import Distributed
import Foundation
import Numerics
import Prompting

extension Trainer {
    /// What one optimiser step measured.
    struct StepOutcome {
        let loss: Float
        let gradNorm: Float
        let seconds: Double
        /// The exposed communication: the gradient reduction's time in MPI calls (`BucketedAllreduce`) and the
        /// loss all-reduce.
        let allreduceSeconds: Double
        /// What the gradient reduction hid behind the backward (no bucket with `train.overlap_allreduce` off).
        let reduction: BucketedAllreduce<Float>.Outcome
    }

    /// One optimiser step of `task` on this rank's `local` samples of a global batch of `globalCount`; every
    /// rank calls it with its own share. `classes` are the classifier's columns (dataset class ids); the
    /// optimiser acts on `range`, the part of the buffer the task trains.
    ///
    /// The gradient all-reduce of `range` is bucketed (`train.overlap_allreduce`): during the vision backward
    /// each part the method says is final (`PromptMethod.visionGradientsFinal`: VPT-deep's and NSP2's per-layer
    /// prompts) is all-reduced while the lower layers are back-propagated; after the backward one all-reduce
    /// takes the rest of the range (the whole range for the other methods, or with the option off), then the
    /// buckets are waited for. Each element is summed once over the same values either way.
    func step(task: Int, local: [Int], globalCount: Int, classes: [Int], optimizer: Optimizer, range: Range<Int>,
              lr: Float) throws -> StepOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        let trained = parameters.gradients.storage + range.lowerBound
        let reduce = BucketedAllreduce(group: group, buffer: parameters.gradients.storage, range: range)
        let shares = try localGradients(task: task, local: local, globalCount: globalCount, classes: classes,
                                        reduce: config.train.overlapAllreduce ? reduce : nil)
        var loss = shares.objective

        // The rest of the gradient all-reduce and the buckets' waits, then one all-reduce of the losses that
        // are per-rank shares.
        let reduction = reduce.finish()
        let lossStarted = DispatchTime.now().uptimeNanoseconds
        if objective.lossIsGlobal {
            loss += group.allreduce(shares.samples, .sum)
        } else {
            loss = group.allreduce(loss + shares.samples, .sum)
        }
        let reduceSeconds = reduction.exposedSeconds + Double(DispatchTime.now().uptimeNanoseconds - lossStarted) / 1e9

        loss += method.addPromptLoss(values: parameters.values, gradients: parameters.gradients, task: task)
        let gradNorm: Float
        if config.train.maxGradNorm > 0 {
            gradNorm = GradientClipping.clipGlobalNorm(trained, count: range.count, maxNorm: Float(config.train.maxGradNorm))
        } else {
            gradNorm = GradientClipping.norm(trained, count: range.count)
        }
        optimizer.step(parameters: parameters.values.storage + range.lowerBound, gradients: trained, lr: lr,
                       transformUpdate: method.updateTransform)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return StepOutcome(loss: loss, gradNorm: gradNorm, seconds: seconds, allreduceSeconds: reduceSeconds,
                           reduction: reduction)
    }

    /// The forward and backward of one step on this rank's `local` samples, before the all-reduce: zeroes the
    /// gradients and leaves in them this rank's share of the gradient of the objective (weighted by the method's
    /// `objectiveWeight`) and of the method's per-sample losses. Returns the objective's loss (the global
    /// batch's for the contrastive loss, this rank's share for the classifiers: `objective.lossIsGlobal`) and
    /// this rank's share of the per-sample losses. With `reduce`, the vision backward starts the all-reduce of
    /// each part of the gradient buffer that is final (`VisionTower.backward(...reduce:)`); the caller finishes it.
    /// ```
    /// method.prepare(values, batch of the n local samples of task)      once: both towers read these prompts
    /// image = vision(pixels; vision prompts)
    /// contrastive:      captions = text(ids; text prompts)  -> loss, dimage, dcaptions -> text backward
    /// text-classifier:  T = text(class texts; text prompts) (C rows, every step when the method has text
    ///                   prompts; `ClassTextEncoder`) -> loss, dimage, dT -> text backward
    /// linear-head:      loss, dimage, the head's gradients
    /// vision backward (dimage);  method.finishBackward: prompt gradients -> parameter gradients
    /// ```
    /// A `CoupledStepMethod` (LPI-P) runs its own towers instead (`Trainer+CoupledStep`); it has no per-sample losses.
    func localGradients(task: Int, local: [Int], globalCount: Int, classes: [Int],
                        reduce: BucketedAllreduce<Float>? = nil)
        throws -> (objective: Float, samples: Float) {
        if let coupled { return (try coupledGradients(coupled, task: task, local: local, globalCount: globalCount,
                                                       classes: classes), 0) }
        let n = local.count
        parameters.gradients.zero()
        loader.loadPixels(local)
        let batch = PromptBatch(count: n, task: task, imageQueries: method.needsImageQueries ? imageQueries(count: n) : nil)
        method.prepare(values: parameters.values, batch: batch)
        let image = vision.forward(pixels: loader.pixels, prompts: method.visionPrompts(parameters.values), batch: n)
        let weight = method.objectiveWeight, textPrompted = !method.textPlan.sites.isEmpty
        let loss: Float
        let dImage: UnsafePointer<Float>
        switch objective {
        case .contrastive(let contrastive):
            loader.loadCaptions(local)
            let captions = text.forward(ids: loader.ids, prompts: method.textPrompts(parameters.values), batch: n)
            loss = weight * contrastive.forward(image: image, text: captions, count: n, logScale: model.logitScale)
            let gradients = contrastive.backward(dLoss: weight)
            dImage = gradients.dImage
            if textPrompted {
                text.backward(dEmbeds: gradients.dText, promptGradients: method.textPromptGradients(parameters.gradients),
                              batch: n)
            }
        case .textClassifier(let classifier):
            let prompts = method.textPrompts(parameters.values)
            if textPrompted {
                precondition(classTexts.count == classes.count, "\(classTexts.count) class texts for \(classes.count) classes")
                classifier.setClasses(textEmbeddings: try classTexts.forward(prompts: prompts, method: method.name),
                                      count: classes.count)
            }
            let result = classifier.forwardBackward(image: image, targets: targets(local, classes: classes), count: n,
                                                    globalCount: globalCount, logScale: model.logitScale,
                                                    weight: weight, classGradients: textPrompted)
            (loss, dImage) = (result.loss, result.dImage)
            if let dClassTexts = result.dClassTexts {
                classTexts.backward(dEmbeddings: dClassTexts, prompts: prompts,
                                    promptGradients: method.textPromptGradients(parameters.gradients))
            }
        case .linearHead(let head):
            let result = head.forwardBackward(image: image, targets: targets(local, classes: classes), count: n,
                                              globalCount: globalCount, columns: classes,
                                              values: parameters.values, gradients: parameters.gradients)
            (loss, dImage) = result
        }
        if !method.visionPlan.sites.isEmpty {
            let promptGradients = method.visionPromptGradients(parameters.gradients)
            if let reduce {
                vision.backward(dEmbeds: dImage, promptGradients: promptGradients, method: method,
                                layout: parameters.layout, reduce: reduce)
            } else {
                vision.backward(dEmbeds: dImage, promptGradients: promptGradients, batch: n)
            }
        }
        let sampleLoss = method.finishBackward(values: parameters.values, gradients: parameters.gradients, batch: batch,
                                               globalCount: globalCount)
        return (loss, sampleLoss)
    }

    /// Each sample's class as a column of `classes`.
    func targets(_ local: [Int], classes: [Int]) -> [Int32] {
        var column = [Int: Int32]()
        for (k, c) in classes.enumerated() { column[c] = Int32(k) }
        return local.map { index in
            let label = dataset.label(at: index)
            guard let target = column[label] else {
                preconditionFailure("sample \(index) of class \(label) is not among the classes in play")
            }
            return target
        }
    }
}
