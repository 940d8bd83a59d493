/// What a measured step or evaluation knows it holds, against the peak resident memory of the process
/// (`ResidentMemory`) while it runs:
/// ```
/// accounted = weights + workspace + inputs
///   weights    the model's frozen weights: its one flat buffer, every tensor (used or not)
///   workspace  the towers' arenas (activations kept for backward, their gradients, scratch) and the loss's buffers
///   inputs     pixels, caption ids, fixed text embeddings, prompt values and their gradients (`BenchBatch`)
/// ratio = peak / accounted
/// ```
/// The rest of the peak is not accounted: the process before the model (code, the Swift runtime, libraries),
/// OpenBLAS's per-thread packing buffers, and heap pages malloc keeps after frees.
struct MemoryAccount: Equatable {
    var weightsBytes: Int
    var workspaceBytes: Int
    var inputBytes: Int

    var accountedBytes: Int { weightsBytes + workspaceBytes + inputBytes }

    /// Peak resident bytes per accounted byte.
    func ratio(peakBytes: Int) -> Double { Double(peakBytes) / Double(accountedBytes) }

    /// The table header's line saying what the memory columns count.
    static func legend(weightsBytes: Int, processBytes: Int) -> String {
        String(format: "memory: peak resident of the process per measurement; accounted = weights %.0f MiB "
               + "+ workspace + inputs; the process held %.0f MiB before the model",
               Double(weightsBytes) / 1_048_576, Double(processBytes) / 1_048_576)
    }
}
