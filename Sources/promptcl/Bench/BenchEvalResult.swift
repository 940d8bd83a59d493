/// One measurement of `bench eval`; its JSON keys are what scripts read.
struct BenchEvalResult: Encodable {
    let shape: String
    let threads: Int
    let batch: Int
    let pairs_per_s: Double
    let eval_ms: Double
    let gflops: Double
    let sgemm_gflops: Double
    let fraction_of_sgemm: Double
    let prompts: Int
    let caption_tokens: Int
    let workspace_mib: Double
    let weights_mib: Double
    let inputs_mib: Double
    let peak_mib: Double
    let accounted_mib: Double
    let memory_ratio: Double

    init(shape: String, threads: Int, batch: Int, pairs_per_s: Double, eval_ms: Double, gflops: Double,
         sgemm_gflops: Double, fraction_of_sgemm: Double, prompts: Int, caption_tokens: Int, memory: MemoryAccount,
         peakBytes: Int) {
        self.shape = shape
        self.threads = threads
        self.batch = batch
        self.pairs_per_s = pairs_per_s
        self.eval_ms = eval_ms
        self.gflops = gflops
        self.sgemm_gflops = sgemm_gflops
        self.fraction_of_sgemm = fraction_of_sgemm
        self.prompts = prompts
        self.caption_tokens = caption_tokens
        workspace_mib = Double(memory.workspaceBytes) / 1_048_576
        weights_mib = Double(memory.weightsBytes) / 1_048_576
        inputs_mib = Double(memory.inputBytes) / 1_048_576
        peak_mib = Double(peakBytes) / 1_048_576
        accounted_mib = Double(memory.accountedBytes) / 1_048_576
        memory_ratio = memory.ratio(peakBytes: peakBytes)
    }

    var tableLine: String {
        String(format: "%7d  %5d  %8.2f  %7.1f  %7.1f  %13.1f  %7.1f%%  %13.0f  %8.0f  %13.0f  %5.2f", threads, batch,
               pairs_per_s, eval_ms, gflops, sgemm_gflops, 100 * fraction_of_sgemm, workspace_mib, peak_mib,
               accounted_mib, memory_ratio)
    }
}
