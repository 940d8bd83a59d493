import ArgumentParser
import CLIP
import Dispatch
import Foundation
import Numerics

/// `promptcl bench step`: one prompt-tuning step of the vision tower (forward, contrastive loss against
/// fixed text embeddings, backward to the prompts, no weight gradients) on ViT-B/16 shapes with random
/// weights, VPT-deep (4 prompts inserted at layer 0 and replaced at every layer), for each batch size and
/// thread count asked. The sgemm rate is measured in the same run, at the same thread count, before and
/// after the steps (the faster of the two counts, so a busy moment cannot flatter the fraction), and the
/// step's achieved GFLOP/s (GEMM FLOPs / wall time) is reported as a fraction of it.
struct BenchStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Time a VPT-deep prompt-tuning step on ViT-B/16 shapes (random weights)."
    )

    @Option(name: .customLong("batch"), help: "Batch size; repeat for several (default: 8 and 32).")
    var batches: [Int] = []

    @Option(name: .customLong("threads"), help: "Threads per rank; repeat for several (default: 1 and all cores).")
    var threadCounts: [Int] = []

    @Option(help: "Timed steps per measurement (after one warm-up step); the fastest is reported.")
    var steps = 3

    @Option(help: "Prompt tokens per layer.")
    var prompts = 4

    @Flag(help: "Print one JSON object per measurement instead of a table row.")
    var json = false

    @Flag(help: ArgumentHelp("After each measurement, profile as many more steps by kernel kind (GEMMs, attention, "
                             + "softmax, LayerNorm, GELU, other): time per step, share, GFLOP/s, fraction of sgemm."))
    var breakdown = false

    func validate() throws {
        guard batches.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch must be positive") }
        guard threadCounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads must be positive") }
        guard steps > 0, prompts > 0 else { throw ValidationError("--steps and --prompts must be positive") }
    }

    func run() throws {
        let config = CLIPConfig.vitBase16VisionBenchmark
        let layers = config.vision.encoder.layers
        let plan = try PromptPlan(
            sites: [PromptPlan.Site(layer: 0, tokens: prompts, mode: .insert)]
                + (1..<layers).map { PromptPlan.Site(layer: $0, tokens: prompts, mode: .replace) },
            placement: .afterClassToken, layers: layers)
        let model = CLIPModel.random(config: config, seed: 1)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threadList = threadCounts.isEmpty ? Array(Set([1, cores])).sorted() : threadCounts
        let batchList = batches.isEmpty ? [8, 32] : batches
        if !json {
            print("vpt-deep step, ViT-B/16 vision (12 x 768, 12 heads, patch 16, 224 px), \(prompts) prompts x \(layers) layers")
            print("threads  batch  images/s  step ms  GFLOP/s  sgemm GFLOP/s  of sgemm  workspace MiB")
        }
        for threads in threadList {
            ComputeThreads.set(threads)
            let before = SgemmRate.measure(threads: threads)
            let results = batchList.map { measure(model: model, plan: plan, batch: $0) }
            let sgemm = max(before, SgemmRate.measure(threads: threads))
            for (batch, result) in zip(batchList, results) {
                let gflops = result.flops / result.seconds / 1e9
                let row = BenchStepResult(method: "vpt-seq", threads: threads, batch: batch,
                                          images_per_s: Double(batch) / result.seconds, step_ms: result.seconds * 1e3,
                                          gflops: gflops, sgemm_gflops: sgemm, fraction_of_sgemm: gflops / sgemm,
                                          workspace_mib: Double(result.workspaceBytes) / 1_048_576)
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
            }
        }
    }

    private func measure(model: CLIPModel, plan: PromptPlan, batch: Int)
        -> (seconds: Double, flops: Double, workspaceBytes: Int, profile: (kernels: KernelProfile, seconds: Double)?) {
        let config = model.config
        let width = config.vision.encoder.hiddenSize, e = config.projectionDim
        var generator = SplitMix64(seed: 7)
        let pixelCount = batch * config.vision.channels * config.vision.imageSize * config.vision.imageSize
        let pixels = UnsafeMutablePointer<Float>.allocate(capacity: pixelCount)
        let textEmbeds = UnsafeMutablePointer<Float>.allocate(capacity: batch * e)
        let promptValues = UnsafeMutablePointer<Float>.allocate(capacity: plan.sites.count * prompts * width)
        let promptGradients = UnsafeMutablePointer<Float>.allocate(capacity: plan.sites.count * prompts * width)
        defer { [pixels, textEmbeds, promptValues, promptGradients].forEach { $0.deallocate() } }
        generator.fillNormal(pixels, count: pixelCount, std: 1)
        generator.fillNormal(textEmbeds, count: batch * e, std: 1)
        generator.fillUniform(promptValues, count: plan.sites.count * prompts * width, low: -1, high: 1)
        promptGradients.initialize(repeating: 0, count: plan.sites.count * prompts * width)
        let values = plan.sites.indices.map { PromptValues(promptValues + $0 * prompts * width) }
        let gradients: [PromptGradient?] = plan.sites.indices.map { PromptGradient(promptGradients + $0 * prompts * width) }

        let tower = VisionTower(model: model, capacity: batch, plan: plan)
        let objective = ContrastiveObjective(capacity: batch, width: e)
        func step() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            let image = tower.forward(pixels: pixels, prompts: values, batch: batch)
            _ = objective.forward(image: image, text: textEmbeds, count: batch, logScale: model.logitScale)
            tower.backward(dEmbeds: objective.backward().dImage, promptGradients: gradients, batch: batch)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = step()
        let best = (0..<steps).map { _ in step() }.min()!
        let flops = VisionStepFlops(config: config.vision, plan: plan, batch: batch).total
        guard breakdown else { return (best, flops, tower.workspaceBytes, nil) }
        let profile = KernelProfile()
        KernelProfile.active = profile
        defer { KernelProfile.active = nil }
        let profiled = (0..<steps).map { _ in step() }.reduce(0, +)
        return (best, flops, tower.workspaceBytes, (profile, profiled))
    }
}

/// One measurement of `bench step`; its JSON keys are what scripts read.
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

    var tableLine: String {
        String(format: "%7d  %5d  %8.2f  %7.1f  %7.1f  %13.1f  %7.1f%%  %13.0f", threads, batch, images_per_s, step_ms,
               gflops, sgemm_gflops, 100 * fraction_of_sgemm, workspace_mib)
    }
}
