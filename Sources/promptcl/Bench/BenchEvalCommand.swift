import ArgumentParser
import CLIP
import Dispatch
import Foundation
import Numerics

/// `promptcl bench eval`: evaluation's forward, no gradients, of both towers of CLIP ViT-B/16 (random weights) on
/// B images and B captions, for each thread count and batch size asked, as `bench step` measures a step:
/// ```
/// image_embeds = vision(pixels, the shape's vision prompts)      (B, E)
/// text_embeds  = text(ids, the shape's text prompts or none)     (B, E)
/// GFLOP/s = (VisionStepFlops + TextStepFlops).forward / wall time, against the sgemm rate of the same run
/// ```
/// The towers are built for inference (`TowerUse.inference`: one layer's intermediates, no gradient buffers), as
/// `promptcl embed` and the trainer's frozen towers are. Memory as in `bench step`: the peak resident memory per
/// measurement against weights, workspace and inputs.
struct BenchEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Time evaluation's forward of both towers (no gradients) on ViT-B/16 shapes against sgemm; peak memory."
    )

    @Option(help: ArgumentHelp("Prompts of the towers (bench step's shapes): vpt and lpi prompt the vision tower, clip "
                               + "both (default: clip); the text tower runs unprompted where the shape has no text prompts."))
    var shape = BenchShape.clip

    @Option(name: .customLong("batch"), help: "Batch size (image-caption pairs); repeat for several (default: 8 and 32).")
    var batches: [Int] = []

    @Option(name: .customLong("threads"), help: "Threads per rank; repeat for several (default: 1 and all cores).")
    var threadCounts: [Int] = []

    @Option(help: "Timed forwards per measurement (after one warm-up); the fastest is reported.")
    var steps = 3

    @Option(help: "Prompt tokens per prompted layer (default: 4 for vpt and clip, 16 for lpi).")
    var prompts: Int?

    @Option(help: ArgumentHelp("Tokens of every caption, SOT and EOT included (default: the whole context, 77, less "
                               + "the text prompts at layer 0)."))
    var captionTokens: Int?

    @Flag(help: "Print one JSON object per measurement instead of a table row.")
    var json = false

    func validate() throws {
        guard batches.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch must be positive") }
        guard threadCounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads must be positive") }
        guard steps > 0, prompts.map({ $0 > 0 }) ?? true else { throw ValidationError("--steps and --prompts must be positive") }
        let context = CLIPConfig.vitBase16.text.contextLength
        guard captionTokens.map({ (2...context).contains($0) }) ?? true else {
            throw ValidationError("--caption-tokens must be in 2...\(context) (SOT and EOT included)")
        }
    }

    func run() throws {
        let processBytes = try ResidentMemory.currentBytes()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threadList = threadCounts.isEmpty ? Array(Set([1, cores])).sorted() : threadCounts
        let batchList = batches.isEmpty ? [8, 32] : batches
        let config = CLIPConfig.vitBase16
        let tokens = prompts ?? shape.defaultTokens
        let visionPlan = try shape.visionPlan(tokens: tokens, config: config.vision)
        let textPlan = try shape.textPlan(tokens: tokens, config: config.text) ?? .none
        let captions = captionTokens ?? config.text.contextLength - textPlan.tokensAtFirstLayer
        let model = CLIPModel.random(config: config, seed: 1)
        let weightsBytes = model.weights.layout.count * MemoryLayout<Float>.stride
        if !json {
            print("eval forward, ViT-B/16 vision (12 x 768, 12 heads, patch 16, 224 px) and text (12 x 512, 8 heads, "
                  + "captions of \(captions) tokens), " + shape.summary(tokens: tokens)
                  + (shape == .clip ? "" : ", text unprompted"))
            print(MemoryAccount.legend(weightsBytes: weightsBytes, processBytes: processBytes))
            print("threads  batch   pairs/s  eval ms  GFLOP/s  sgemm GFLOP/s  of sgemm  workspace MiB  peak MiB  "
                  + "accounted MiB  ratio")
        }
        for threads in threadList {
            ComputeThreads.set(threads)
            let before = SgemmRate.measure(threads: threads)
            let results = try batchList.map {
                try measure(model: model, visionPlan: visionPlan, textPlan: textPlan, batch: $0, captionTokens: captions)
            }
            let sgemm = max(before, SgemmRate.measure(threads: threads))
            for (batch, result) in zip(batchList, results) {
                let gflops = result.flops / result.seconds / 1e9
                let memory = MemoryAccount(weightsBytes: weightsBytes, workspaceBytes: result.workspaceBytes,
                                           inputBytes: result.inputBytes)
                let row = BenchEvalResult(shape: shape.rawValue, threads: threads, batch: batch,
                                          pairs_per_s: Double(batch) / result.seconds, eval_ms: result.seconds * 1e3,
                                          gflops: gflops, sgemm_gflops: sgemm, fraction_of_sgemm: gflops / sgemm,
                                          prompts: tokens, caption_tokens: captions, memory: memory,
                                          peakBytes: result.peakBytes)
                print(json ? try jsonLine(row) : row.tableLine)
                fflush(stdout)
            }
        }
    }

    /// One configuration: the peak resident memory is reset first, so it is this configuration's.
    private func measure(model: CLIPModel, visionPlan: PromptPlan, textPlan: PromptPlan, batch: Int, captionTokens: Int)
        throws -> (seconds: Double, flops: Double, workspaceBytes: Int, inputBytes: Int, peakBytes: Int) {
        let config = model.config
        try ResidentMemory.resetPeak()
        let inputs = BenchBatch(config: config, visionPlan: visionPlan, textPlan: textPlan, batch: batch,
                                captionTokens: captionTokens)
        let vision = VisionTower(model: model, capacity: batch, plan: visionPlan, use: .inference)
        let text = TextTower(model: model, capacity: batch, plan: textPlan, use: .inference)
        func forward() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            vision.forward(pixels: inputs.pixels, prompts: inputs.visionPrompts, batch: batch)
            inputs.ids.withUnsafeBufferPointer {
                _ = text.forward(ids: $0.baseAddress!, prompts: inputs.textPrompts, batch: batch)
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = forward()
        let best = (0..<steps).map { _ in forward() }.min()!
        let flops = VisionStepFlops(config: config.vision, plan: visionPlan, batch: batch).forward
            + TextStepFlops(config: config.text, plan: textPlan, batch: batch, captionTokens: captionTokens).forward
        return (best, flops, vision.workspaceBytes + text.workspaceBytes, inputs.byteCount, try ResidentMemory.peakBytes())
    }
}
