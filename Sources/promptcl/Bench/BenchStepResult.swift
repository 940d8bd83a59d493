/// One measurement of `bench step`; its JSON keys are what scripts read (the first nine predate the shapes and
/// the memory columns: keep them).
struct BenchStepResult: Encodable {
    let method: String
    let threads: Int
    let batch: Int
    let images_per_s: Double
    let step_ms: Double
    let gflops: Double
    let sgemm_gflops: Double
    let fraction_of_sgemm: Double
    let workspace_mib: Double
    let shape: String
    let prompts: Int
    /// Tokens of each caption (SOT and EOT included) where the step runs the text tower.
    let caption_tokens: Int?
    let weights_mib: Double
    let inputs_mib: Double
    let peak_mib: Double
    let accounted_mib: Double
    let memory_ratio: Double

    init(method: String, threads: Int, batch: Int, images_per_s: Double, step_ms: Double, gflops: Double,
         sgemm_gflops: Double, fraction_of_sgemm: Double, workspace_mib: Double, shape: String, prompts: Int,
         caption_tokens: Int?, memory: MemoryAccount, peakBytes: Int) {
        self.method = method
        self.threads = threads
        self.batch = batch
        self.images_per_s = images_per_s
        self.step_ms = step_ms
        self.gflops = gflops
        self.sgemm_gflops = sgemm_gflops
        self.fraction_of_sgemm = fraction_of_sgemm
        self.workspace_mib = workspace_mib
        self.shape = shape
        self.prompts = prompts
        self.caption_tokens = caption_tokens
        weights_mib = Double(memory.weightsBytes) / 1_048_576
        inputs_mib = Double(memory.inputBytes) / 1_048_576
        peak_mib = Double(peakBytes) / 1_048_576
        accounted_mib = Double(memory.accountedBytes) / 1_048_576
        memory_ratio = memory.ratio(peakBytes: peakBytes)
    }

    var tableLine: String {
        String(format: "%7d  %5d  %8.2f  %7.1f  %7.1f  %13.1f  %7.1f%%  %13.0f  %8.0f  %13.0f  %5.2f", threads, batch,
               images_per_s, step_ms, gflops, sgemm_gflops, 100 * fraction_of_sgemm, workspace_mib, peak_mib,
               accounted_mib, memory_ratio)
    }
}
