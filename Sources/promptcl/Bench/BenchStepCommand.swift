import ArgumentParser
import CLIP
import Dispatch
import Foundation
import Numerics

/// `promptcl bench step`: one prompt-tuning step (forward, contrastive loss, backward to the prompts, no weight
/// gradients) on ViT-B/16 shapes with random weights, for each shape, thread count and batch size asked:
/// ```
/// --shape vpt    the vision tower, VPT-deep 4 x 12, loss against fixed text embeddings (the default)
/// --shape lpi    the vision tower, LPI's deep prompts 16 x 9 (insert, then add), fixed text embeddings
/// --shape clip   both towers prompted (VPT-deep 4 x 12 in each), B image-caption pairs, CLIP's loss,
///                backward through both towers          (`BenchShape`)
/// ```
/// The sgemm rate is measured in the same run, at the same thread count, before and after the steps (the faster
/// of the two counts, so a busy moment cannot flatter the fraction), and the step's achieved GFLOP/s (GEMM FLOPs of
/// `VisionStepFlops` + `TextStepFlops` / wall time) is reported as a fraction of it. Memory: the peak resident
/// memory of the process during each measurement (reset before it, `ResidentMemory`) against the bytes the step
/// accounts for (`MemoryAccount`: weights, workspace, inputs) and their ratio.
struct BenchStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Time a deep-prompt training step on ViT-B/16 shapes (random weights) against sgemm; peak memory."
    )

    @Option(name: .customLong("shape"),
            help: ArgumentHelp("What to step; repeat for several (default: vpt). vpt: vision tower, VPT-deep (4 prompts x 12 "
                               + "layers); lpi: vision tower, LPI's deep prompts (16 x the first 9 layers, inserted then "
                               + "added); clip: the full CLIP contrastive step, both towers prompted (VPT-deep in each), "
                               + "backward through both."))
    var shapes: [BenchShape] = []

    @Option(name: .customLong("batch"), help: "Batch size; repeat for several (default: 8 and 32).")
    var batches: [Int] = []

    @Option(name: .customLong("threads"), help: "Threads per rank; repeat for several (default: 1 and all cores).")
    var threadCounts: [Int] = []

    @Option(help: "Timed steps per measurement (after one warm-up step); the fastest is reported.")
    var steps = 3

    @Option(help: "Prompt tokens per prompted layer (default: 4 for vpt and clip, 16 for lpi).")
    var prompts: Int?

    @Option(help: ArgumentHelp("Tokens of every caption, SOT and EOT included, for clip (default: the whole context, "
                               + "77, less the text prompts at layer 0)."))
    var captionTokens: Int?

    @Flag(help: "Print one JSON object per measurement instead of a table row.")
    var json = false

    @Flag(help: ArgumentHelp("After each measurement, profile as many more steps by kernel kind (GEMMs, attention, "
                             + "softmax, LayerNorm, GELU, other): time per step, share, GFLOP/s, fraction of sgemm."))
    var breakdown = false

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
        for shape in shapes.isEmpty ? [.vpt] : shapes {
            let config = shape.stepConfig
            let tokens = prompts ?? shape.defaultTokens
            let visionPlan = try shape.visionPlan(tokens: tokens, config: config.vision)
            let textPlan = try shape.textPlan(tokens: tokens, config: config.text)
            let captions = captionTokens ?? config.text.contextLength - (textPlan?.tokensAtFirstLayer ?? 0)
            let model = CLIPModel.random(config: config, seed: 1)
            let weightsBytes = model.weights.layout.count * MemoryLayout<Float>.stride
            if !json {
                print("\(shape.rawValue) step, ViT-B/16 vision (12 x 768, 12 heads, patch 16, 224 px)"
                      + (textPlan == nil ? "" : " and text (12 x 512, 8 heads, captions of \(captions) tokens)")
                      + ", " + shape.summary(tokens: tokens))
                print(MemoryAccount.legend(weightsBytes: weightsBytes, processBytes: processBytes))
                print("threads  batch  images/s  step ms  GFLOP/s  sgemm GFLOP/s  of sgemm  workspace MiB  peak MiB  "
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
                    let row = BenchStepResult(method: shape.method, threads: threads, batch: batch,
                                              images_per_s: Double(batch) / result.seconds, step_ms: result.seconds * 1e3,
                                              gflops: gflops, sgemm_gflops: sgemm, fraction_of_sgemm: gflops / sgemm,
                                              workspace_mib: Double(result.workspaceBytes) / 1_048_576,
                                              shape: shape.rawValue, prompts: tokens,
                                              caption_tokens: textPlan == nil ? nil : captions, memory: memory,
                                              peakBytes: result.peakBytes)
                    print(json ? try jsonLine(row) : row.tableLine)
                    if let profile = result.profile {
                        let rows = StepBreakdown.rows(profile: profile.kernels, steps: steps, stepSeconds: profile.seconds,
                                                      sgemmGflops: sgemm)
                        if json {
                            for row in rows { print(try jsonLine(row.withContext(threads: threads, batch: batch))) }
                        } else {
                            print(StepBreakdown.table(rows))
                        }
                    }
                    fflush(stdout)
                }
            }
        }
    }

    private struct Measurement {
        let seconds: Double
        let flops: Double
        let workspaceBytes: Int
        let inputBytes: Int
        let peakBytes: Int
        let profile: (kernels: KernelProfile, seconds: Double)?
    }

    /// One configuration: the peak resident memory is reset first, so it is this configuration's.
    private func measure(model: CLIPModel, visionPlan: PromptPlan, textPlan: PromptPlan?, batch: Int,
                         captionTokens: Int) throws -> Measurement {
        let config = model.config
        try ResidentMemory.resetPeak()
        let inputs = BenchBatch(config: config, visionPlan: visionPlan, textPlan: textPlan, batch: batch,
                                captionTokens: captionTokens)
        let vision = VisionTower(model: model, capacity: batch, plan: visionPlan)
        let text = textPlan.map { TextTower(model: model, capacity: batch, plan: $0) }
        let objective = ContrastiveObjective(capacity: batch, width: config.projectionDim)
        func step() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            let image = vision.forward(pixels: inputs.pixels, prompts: inputs.visionPrompts, batch: batch)
            if let text {
                let caption = inputs.ids.withUnsafeBufferPointer {
                    text.forward(ids: $0.baseAddress!, prompts: inputs.textPrompts, batch: batch)
                }
                _ = objective.forward(image: image, text: caption, count: batch, logScale: model.logitScale)
                let (dImage, dText, _) = objective.backward()
                vision.backward(dEmbeds: dImage, promptGradients: inputs.visionGradients, batch: batch)
                text.backward(dEmbeds: dText, promptGradients: inputs.textGradients, batch: batch)
            } else {
                _ = objective.forward(image: image, text: inputs.textEmbeds!, count: batch, logScale: model.logitScale)
                vision.backward(dEmbeds: objective.backward().dImage, promptGradients: inputs.visionGradients, batch: batch)
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = step()
        let best = (0..<steps).map { _ in step() }.min()!
        let peak = try ResidentMemory.peakBytes()
        let flops = VisionStepFlops(config: config.vision, plan: visionPlan, batch: batch).total
            + (textPlan.map { TextStepFlops(config: config.text, plan: $0, batch: batch, captionTokens: captionTokens).total } ?? 0)
        let workspace = vision.workspaceBytes + (text?.workspaceBytes ?? 0) + objective.workspaceBytes
        var profile: (KernelProfile, Double)?
        if breakdown {
            let kernels = KernelProfile()
            KernelProfile.active = kernels
            defer { KernelProfile.active = nil }
            profile = (kernels, (0..<steps).map { _ in step() }.reduce(0, +))
        }
        return Measurement(seconds: best, flops: flops, workspaceBytes: workspace, inputBytes: inputs.byteCount,
                           peakBytes: peak, profile: profile)
    }
}
