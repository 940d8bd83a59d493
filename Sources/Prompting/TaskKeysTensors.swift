import CLIP

/// Each modality's task keys as safetensors tensors (F32), as `task_keys.safetensors` and checkpoints keep them:
/// ```
/// image.task{t}   (c_t, d)   task t's centroids over L2-normalised frozen image embeddings
/// text.task{t}    (c_t, d)   the same over caption embeddings
/// ```
public enum TaskKeysTensors {
    /// Adds every task's keys of both modalities to `writer`.
    public static func add(image: TaskKeys, text: TaskKeys, to writer: inout SafetensorsWriter) throws {
        for (modality, keys) in [("image", image), ("text", text)] {
            for task in 0..<keys.taskCount {
                let rows = keys.owners.indices.filter { keys.owners[$0] == task }
                let values = rows.flatMap { keys.centroids[($0 * keys.width)..<(($0 + 1) * keys.width)] }
                try writer.add("\(modality).task\(task)", shape: [rows.count, keys.width], floats: values)
            }
        }
    }

    /// The keys of tasks 0..<`tasks` of both modalities from `file`, of width `width`; throws naming the file
    /// and the tensor when one is missing or not (c, width).
    public static func read(_ file: SafetensorsFile, tasks: Int, width: Int) throws -> (image: TaskKeys, text: TaskKeys) {
        var image = TaskKeys(width: width), text = TaskKeys(width: width)
        for task in 0..<tasks {
            for modality in ["image", "text"] {
                let name = "\(modality).task\(task)"
                guard let shape = file.info(name)?.shape, shape.count == 2, shape[0] >= 1, shape[1] == width else {
                    throw SafetensorsError(file.url, "tensor '\(name)' is missing or not (centroids, \(width))")
                }
                let values = try file.floats(name)
                guard values.allSatisfy(\.isFinite) else {
                    throw SafetensorsError(file.url, "tensor '\(name)' holds a value that is not finite")
                }
                if modality == "image" { image.append(task: values) } else { text.append(task: values) }
            }
        }
        return (image, text)
    }
}
