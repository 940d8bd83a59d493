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
        let n = local.count
        parameters.gradients.zero()
        loader.loadPixels(local)
        let batch = PromptBatch(count: n, task: task, imageQueries: method.needsImageQueries ? imageQueries(count: n) : nil)
        method.prepare(values: parameters.values, batch: batch)
        let image = vision.forward(pixels: loader.pixels, prompts: method.visionPrompts(parameters.values), batch: n)
        var loss: Float
        let dImage: UnsafePointer<Float>
        switch objective {
        case .contrastive(let contrastive):
            loader.loadCaptions(local)
            let captions = text.forward(ids: loader.ids, prompts: method.textPrompts(parameters.values), batch: n)
            let weight = method.objectiveWeight
            loss = weight * contrastive.forward(image: image, text: captions, count: n, logScale: model.logitScale)
            let gradients = contrastive.backward(dLoss: weight)
            dImage = gradients.dImage
            if !method.textPlan.sites.isEmpty {
                text.backward(dEmbeds: gradients.dText, promptGradients: method.textPromptGradients(parameters.gradients),
                              batch: n)
            }
        case .textClassifier(let classifier):
            let result = classifier.forwardBackward(image: image, targets: targets(local, classes: classes), count: n,
                                                    globalCount: globalCount, logScale: model.logitScale)
            (loss, dImage) = result
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

        // One all-reduce of the trained range, and one of the losses that are per-rank shares.
        let reduceStarted = DispatchTime.now().uptimeNanoseconds
        let trained = parameters.gradients.storage + range.lowerBound
        group.allreduceSum(UnsafeMutableBufferPointer(start: trained, count: range.count))
        if objective.lossIsGlobal {
            loss += group.allreduce(sampleLoss, .sum)
        } else {
            loss = group.allreduce(loss + sampleLoss, .sum)
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
