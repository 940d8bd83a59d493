import CLIP
import Distributed
import Foundation
import Prompting

extension Trainer {
    /// The task keys of `task` (per-task methods), on every rank (DESIGN.md, "Prompting methods"):
    /// ```
    /// rank r: samples r, r + P, ... of the task's training set -> frozen image and caption embeddings (no prompts)
    ///         -> L2-normalised rows
    /// per modality: DistributedKMeans(rows of all ranks, c = method.task_identity.centroids, seeded per task)
    ///         -> c centroids appended to that modality's TaskKeys (the same on every rank)
    /// ```
    /// At inference each sample takes the task of its nearest centroid (L1), images and captions separately.
    func fitTaskKeys(task: Int, indices: [Int]) throws {
        guard var keys = taskKeys, let frozenVision, let frozenText else {
            preconditionFailure("fitTaskKeys for method \(method.name), which has no task keys")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let width = model.config.projectionDim
        let positions = Array(stride(from: group.rank, to: indices.count, by: group.size))
        var images = [Float](repeating: 0, count: positions.count * width)
        var captions = [Float](repeating: 0, count: positions.count * width)
        for start in stride(from: 0, to: positions.count, by: localBatch) {
            let chunk = positions[start..<min(start + localBatch, positions.count)].map { indices[$0] }
            loader.loadPixels(chunk)
            loader.loadCaptions(chunk)
            let image = frozenVision.forward(pixels: loader.pixels, prompts: [], batch: chunk.count)
            let caption = frozenText.forward(ids: loader.ids, prompts: [], batch: chunk.count)
            images.withUnsafeMutableBufferPointer { ($0.baseAddress! + start * width).update(from: image, count: chunk.count * width) }
            captions.withUnsafeMutableBufferPointer { ($0.baseAddress! + start * width).update(from: caption, count: chunk.count * width) }
        }
        TaskKeys.normalizeRows(&images, width: width)
        TaskKeys.normalizeRows(&captions, width: width)

        let settings = config.method.taskIdentity
        func fit(_ rows: [Float], _ modality: String) throws -> DistributedKMeans.Result {
            do {
                return try DistributedKMeans.fit(localRows: rows, globalIndices: positions, dimension: width,
                                                 k: settings.centroids, iterations: settings.iterations,
                                                 seed: seeds.keys(task: task), group: group)
            } catch {
                throw TrainingError("task \(task) keys (\(modality), \(indices.count) samples, "
                                    + "method.task_identity.centroids \(settings.centroids)): \(error)")
            }
        }
        let image = try fit(images, "images"), text = try fit(captions, "captions")
        keys.image.append(task: image.centroids)
        keys.text.append(task: text.centroids)
        taskKeys = keys
        try observer?.taskKeysFitted(TaskKeysRecord(
            task: task, samples: indices.count, centroids: settings.centroids,
            imageIterations: image.iterations, imageInertia: image.inertia,
            textIterations: text.iterations, textInertia: text.inertia,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9), image: keys.image, text: keys.text)
    }
}
