import CLIP

/// One prompt site of a per-task method: task t's values (tokens, D) at `values(t)`, and a batch whose
/// samples may belong to different tasks (inference with predicted task ids).
///
/// ```
/// batch of one task t:   prompts = P_t               (shared, batchStride 0; gradients straight into dP_t)
/// mixed batch:           prompts[b] = P_{task[b]}    (gathered, (n, tokens, D)); gradients per sample, then
///                        dP_t += sum_{b: task[b] = t} dprompts[b]                 (`scatterGradients`)
/// ```
public final class TaskPromptSite {
    public let tokens: Int
    public let width: Int
    private let gathered = PromptScratch()
    private let gatheredGradients = PromptScratch()
    private var tasks: [Int] = []
    private var shared: Int?

    public init(tokens: Int, width: Int) {
        self.tokens = tokens
        self.width = width
    }

    private var size: Int { tokens * width }

    /// Chooses each sample's values: `values(t)` is task t's (tokens, D) block.
    public func prepare(batch: PromptBatch, values: (Int) -> UnsafePointer<Float>) {
        tasks = batch.tasks
        shared = batch.sharedTask
        guard shared == nil else { return }
        let out = gathered.reserve(batch.count * size)
        for (b, task) in batch.tasks.enumerated() { (out + b * size).update(from: values(task), count: size) }
        gatheredGradients.zeroed(batch.count * size)
    }

    /// The prompt values for the tower: task t's block when the batch shares t, else the gathered blocks.
    public func prompts(values: (Int) -> UnsafePointer<Float>) -> PromptValues {
        if let shared { return PromptValues(values(shared)) }
        return PromptValues(gathered.pointer, batchStride: size)
    }

    /// Where the tower's gradient goes: task t's gradient block, or per-sample blocks to scatter afterwards.
    public func gradients(_ gradients: (Int) -> UnsafeMutablePointer<Float>) -> PromptGradient {
        if let shared { return PromptGradient(gradients(shared)) }
        return PromptGradient(gatheredGradients.pointer, batchStride: size)
    }

    /// dP_t += the per-sample gradients of t's samples (mixed batches; nothing to do for a shared task).
    public func scatterGradients(_ gradients: (Int) -> UnsafeMutablePointer<Float>) {
        guard shared == nil else { return }
        for (b, task) in tasks.enumerated() {
            let source = gatheredGradients.pointer + b * size, destination = gradients(task)
            for i in 0..<size { destination[i] += source[i] }
        }
    }
}
