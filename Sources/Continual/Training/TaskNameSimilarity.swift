import CLIP

/// CPA's task-name similarity (LPI, eq. 7): the cosine similarity of the task names' embeddings by the frozen
/// CLIP text encoder (DESIGN.md, "Prompting methods").
/// ```
/// S_t = text(names[t]) / ||text(names[t])||        (E)       c_ij = S_i . S_j        (tasks, tasks)
/// ```
/// A class-incremental task's name is its classes' names joined by ", " (COCO's tasks are named by their
/// supercategory); a domain-incremental task's is its domain's ("clipart", "sketch", ...).
enum TaskNameSimilarity {
    /// The names of `split`'s tasks over `dataset`'s classes.
    static func names(split: TaskSplit, classNames: [String]) -> [String] {
        switch split.kind {
        case .classIncremental:
            return (0..<split.taskCount).map { task in
                split.classes(ofTask: task).map { classNames[$0] }.joined(separator: ", ")
            }
        case .domainIncremental:
            return split.domainNames
        }
    }

    /// c (names.count, names.count) row-major, computed in one text forward on this rank (the same on every rank).
    static func compute(names: [String], model: CLIPModel, loader: BatchLoader, tower: TextTower) -> [Float] {
        let e = model.config.projectionDim, k = names.count
        var embeddings = [Float](repeating: 0, count: k * e)
        for start in stride(from: 0, to: k, by: loader.capacity) {
            let chunk = Array(names[start..<min(start + loader.capacity, k)])
            loader.loadTexts(chunk)
            let output = tower.forward(ids: loader.ids, prompts: [], batch: chunk.count)
            for i in 0..<(chunk.count * e) { embeddings[start * e + i] = output[i] }
        }
        for t in 0..<k {
            var norm: Float = 0
            for i in 0..<e { norm += embeddings[t * e + i] * embeddings[t * e + i] }
            let scale = 1 / max(norm.squareRoot(), 1e-12)
            for i in 0..<e { embeddings[t * e + i] *= scale }
        }
        var similarity = [Float](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                var dot: Float = 0
                for c in 0..<e { dot += embeddings[i * e + c] * embeddings[j * e + c] }
                similarity[i * k + j] = dot
            }
        }
        return similarity
    }
}
