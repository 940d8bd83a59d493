import CLIP
import Foundation
import Numerics
import Prompting

extension Trainer {
    /// What one optimiser step measured.
    struct StepOutcome {
        let loss: Float
        let gradNorm: Float
        let seconds: Double
        let allreduceSeconds: Double
    }

    /// One optimiser step of `task` on this rank's `local` samples of a global batch of `globalCount`; every
    /// rank calls it with its own share. `classes` are the classifier's columns (dataset class ids); the
    /// optimiser acts on `range`, the part of the buffer the task trains.
    func step(task: Int, local: [Int], globalCount: Int, classes: [Int], optimizer: Optimizer, range: Range<Int>,
              lr: Float) throws -> StepOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        let shares = try localGradients(task: task, local: local, globalCount: globalCount, classes: classes)
        var loss = shares.objective

        // One all-reduce of the trained range, and one of the losses that are per-rank shares.
        let reduceStarted = DispatchTime.now().uptimeNanoseconds
        let trained = parameters.gradients.storage + range.lowerBound
        group.allreduceSum(UnsafeMutableBufferPointer(start: trained, count: range.count))
        if objective.lossIsGlobal {
            loss += group.allreduce(shares.samples, .sum)
        } else {
            loss = group.allreduce(loss + shares.samples, .sum)
        }
        let reduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - reduceStarted) / 1e9

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
        return StepOutcome(loss: loss, gradNorm: gradNorm, seconds: seconds, allreduceSeconds: reduceSeconds)
    }

    /// The forward and backward of one step on this rank's `local` samples, before the all-reduce: zeroes the
    /// gradients and leaves in them this rank's share of the gradient of the objective (weighted by the method's
    /// `objectiveWeight`) and of the method's per-sample losses. Returns the objective's loss (the global
    /// batch's for the contrastive loss, this rank's share for the classifiers: `objective.lossIsGlobal`) and
    /// this rank's share of the per-sample losses.
    /// ```
    /// method.prepare(values, batch of the n local samples of task)      once: both towers read these prompts
    /// image = vision(pixels; vision prompts)
    /// contrastive:      captions = text(ids; text prompts)  -> loss, dimage, dcaptions -> text backward
    /// text-classifier:  T = text(class texts; text prompts) (C rows, every step when the method has text
    ///                   prompts; `ClassTextEncoder`) -> loss, dimage, dT -> text backward
    /// linear-head:      loss, dimage, the head's gradients
    /// vision backward (dimage);  method.finishBackward: prompt gradients -> parameter gradients
    /// ```
    func localGradients(task: Int, local: [Int], globalCount: Int, classes: [Int]) throws
        -> (objective: Float, samples: Float) {
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
            vision.backward(dEmbeds: dImage, promptGradients: method.visionPromptGradients(parameters.gradients), batch: n)
        }
        let sampleLoss = method.finishBackward(values: parameters.values, gradients: parameters.gradients, batch: batch,
                                               globalCount: globalCount)
        return (loss, sampleLoss)
    }

    /// Each sample's class as a column of `classes`.
    private func targets(_ local: [Int], classes: [Int]) -> [Int32] {
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
