import CLIP
import Distributed
import Prompting

extension Trainer {
    /// The forward and backward of one step of a `CoupledStepMethod` (LPI-P) on this rank's `local` samples of task
    /// `task`, before the all-reduce (`CoupledStep`): zeroes the gradients and leaves this rank's share in them;
    /// returns the objective's loss (the global batch's for the contrastive loss, this rank's share for the text
    /// classifier, as `objective.lossIsGlobal` says).
    /// ```
    /// contrastive:      every rank's caption ids all-gathered (rank order, the order the objective gathers the
    ///                   images' logit rows in); this rank's images against all N captions: n N conditioned captions
    /// text-classifier:  the C class texts of the task conditioned on each of the n images: n C conditioned texts
    /// ```
    func coupledGradients(_ step: CoupledStep, task: Int, local: [Int], globalCount: Int, classes: [Int]) throws -> Float {
        let n = local.count, context = model.config.text.contextLength
        parameters.gradients.zero()
        loader.loadPixels(local)
        let tasks = [Int](repeating: task, count: n)
        let (weight, logScale) = (method.objectiveWeight, model.logitScale)
        switch objective {
        case .contrastive:
            loader.loadCaptions(local)
            let ids = group.allgatherv(Array(UnsafeBufferPointer(start: loader.ids, count: n * context))).values
            return ids.withUnsafeBufferPointer { all in
                step.contrastive(pixels: loader.pixels, tasks: tasks, ids: all.baseAddress!, captions: all.count / context,
                                 context: context, values: parameters.values, gradients: parameters.gradients,
                                 weight: weight, logScale: logScale)
            }
        case .textClassifier(let classifier):
            precondition(classTexts.count == classes.count, "\(classTexts.count) class texts for \(classes.count) classes")
            return step.classifier(classifier, pixels: loader.pixels, tasks: tasks, classIDs: classTexts.tokenIDs,
                                   classes: classes.count, context: context, targets: targets(local, classes: classes),
                                   globalCount: globalCount, values: parameters.values, gradients: parameters.gradients,
                                   weight: weight, logScale: logScale)
        case .linearHead:
            preconditionFailure("loss.kind \"linear-head\" with method \(method.name) is refused when the trainer starts")
        }
    }
}
