import CLIP
import Foundation
import Numerics

extension Pretrainer {
    /// What one optimiser step measured.
    struct StepOutcome {
        let loss: Float
        let gradNorm: Float
        let seconds: Double
        let allreduceSeconds: Double
    }

    /// One optimiser step on this rank's `local` pairs of a global batch; every rank calls it with its own share
    /// (see the type's documentation for the equations).
    func step(local: [Int], lr: Float) -> StepOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        let n = local.count, count = gradients.layout.count
        gradients.zero()
        loader.loadPixels(local)
        loader.loadCaptions(local)
        let image = vision.forward(pixels: loader.pixels, batch: n)
        let captions = text.forward(ids: loader.ids, batch: n)
        let loss = objective.forward(image: image, text: captions, count: n, logScale: model.logitScale)
        let backward = objective.backward()
        text.backward(dEmbeds: backward.dText, promptGradients: [], batch: n)
        vision.backward(dEmbeds: backward.dImage, promptGradients: [], batch: n)

        let reduceStarted = DispatchTime.now().uptimeNanoseconds
        group.allreduceSum(UnsafeMutableBufferPointer(start: gradients.storage, count: count))
        let reduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - reduceStarted) / 1e9
        if config.train.learnLogitScale { gradients["logit_scale"].pointee += backward.dLogScale }

        let gradNorm: Float
        if config.train.maxGradNorm > 0 {
            gradNorm = GradientClipping.clipGlobalNorm(gradients.storage, count: count,
                                                       maxNorm: Float(config.train.maxGradNorm))
        } else {
            gradNorm = GradientClipping.norm(gradients.storage, count: count)
        }
        optimizer.step(parameters: model.weights.storage, gradients: gradients.storage, lr: lr)
        let logitScale = model.weights["logit_scale"]
        logitScale.pointee = min(max(logitScale.pointee, 0), Self.maximumLogitScale)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return StepOutcome(loss: loss, gradNorm: gradNorm, seconds: seconds, allreduceSeconds: reduceSeconds)
    }
}
