import ArgumentParser
import CLIP
import Continual
import Dispatch
import Distributed
import Foundation
import Numerics
import Prompting

/// `promptcl bench allreduce`: how much of the gradient all-reduce the bucketed reduction hides behind the
/// backward, on the ranks of the job (run it under `launch/mpirun -np N`). ViT-B/16 vision shapes with random
/// weights, VPT-deep (`--prompts` tokens inserted at layer 0 and replaced at every layer), each rank its own
/// random pixels, a contrastive loss against fixed random text embeddings on its own rows; no weight gradients.
///
/// ```
/// each step, both ways on the same inputs (every rank enters each through a barrier):
///   blocking    forward, backward; then allreduceSum(gradients)        allreduce_ms: that call
///   overlapped  forward, backward with BucketedAllreduce (vpt.layer{l+1} started after backward step l,
///               MPI_Test between layers); finish()                      exposed_ms: the reduction's MPI time
///   bare        allreduceSum of the same bytes, nothing else            bare_ms
/// ```
/// Times are in milliseconds. The step's is the slowest rank's. A rank that finishes its backward first waits for
/// the others inside the all-reduce (both ways), so each communication time is given as the least over the ranks
/// (`*_ms`: the last rank to arrive, which waits for the communication alone, on the step's critical path) and as
/// the mean (`*_mean_ms`, JSON only: that wait included).
/// `max_difference` is the largest |blocking - overlapped| over the reduced gradients: 0 on 2 ranks.
/// One warm-up step each way first. Rank 0 prints a row per step (or one JSON object with `--json`).
struct BenchAllreduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time a VPT-deep step's gradient all-reduce, blocking against bucketed and overlapped with the backward.",
        discussion: "Run it on several ranks: launch/mpirun -np 2 promptcl bench allreduce --batch 8"
    )

    @Option(help: "Images per rank.")
    var batch = 8

    @Option(help: "Timed steps (after one warm-up step each way).")
    var steps = 5

    @Option(help: "Prompt tokens per layer.")
    var prompts = 4

    @Option(help: "Encoder layers of the ViT-B/16 vision tower (its first ones), all prompted.")
    var layers = CLIPConfig.vitBase16VisionBenchmark.vision.encoder.layers

    @Option(help: "Threads per rank (OpenBLAS and the kernels); default: OPENBLAS_NUM_THREADS as launch/mpirun sets it.")
    var threads: Int?

    @Flag(help: "Print one JSON object per step instead of a table row.")
    var json = false

    func validate() throws {
        guard batch > 0, steps > 0, prompts > 0 else { throw ValidationError("--batch, --steps and --prompts must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        let most = CLIPConfig.vitBase16VisionBenchmark.vision.encoder.layers
        guard (1...most).contains(layers) else { throw ValidationError("--layers must be in 1...\(most)") }
    }

    func run() throws {
        let group = ProcessGroup.world
        if let threads { ComputeThreads.set(threads) }
        var config = CLIPConfig.vitBase16VisionBenchmark
        config.vision.encoder.layers = layers
        let model = CLIPModel.random(config: config, seed: 1)
        let method = try VPTDeep(config: config.vision, tokens: prompts)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 2)
        let step = BenchAllreduceStep(model: model, method: method, parameters: parameters, batch: batch,
                                      seed: 3 + UInt64(group.rank), group: group)
        let bytes = layout.count * MemoryLayout<Float>.size
        if group.isRoot && !json {
            print("gradient all-reduce, vpt-deep step on ViT-B/16 vision (\(layers) x 768, 12 heads, patch 16, 224 px), "
                  + "\(prompts) prompts x \(layers) layers, \(group.size) rank(s) x \(batch) images, "
                  + "\(ComputeThreads.blasThreads) thread(s) per rank")
            print("step ms: slowest rank; allreduce/exposed/bare ms: least over ranks (the last to arrive)")
            print("step  blocking step ms  allreduce ms  overlapped step ms  exposed ms  buckets  bare ms     bytes  max diff")
        }
        _ = step.blocking()
        _ = step.overlapped()
        for index in 0..<steps {
            let blocking = step.blocking()
            let reference = step.reducedGradients()
            let overlapped = step.overlapped()
            let difference = zip(reference, step.reducedGradients()).map { abs($0 - $1) }.max() ?? 0
            let bare = step.bareAllreduce()
            let row = BenchAllreduceResult(
                step: index, ranks: group.size, batch: batch, prompts: prompts, layers: layers, bytes: bytes,
                blocking_step_ms: 1e3 * group.allreduce(blocking.step, .max),
                allreduce_ms: 1e3 * group.allreduce(blocking.communication, .min),
                allreduce_mean_ms: 1e3 * group.allreduce(blocking.communication, .sum) / Double(group.size),
                overlapped_step_ms: 1e3 * group.allreduce(overlapped.step, .max),
                exposed_ms: 1e3 * group.allreduce(overlapped.communication, .min),
                exposed_mean_ms: 1e3 * group.allreduce(overlapped.communication, .sum) / Double(group.size),
                buckets: overlapped.buckets,
                bare_ms: 1e3 * group.allreduce(bare, .min),
                bare_mean_ms: 1e3 * group.allreduce(bare, .sum) / Double(group.size),
                max_difference: group.allreduce(difference, .max))
            if group.isRoot {
                print(json ? try jsonLine(row) : row.tableLine)
                fflush(stdout)
            }
        }
    }
}

/// The measured step of `bench allreduce` on one rank: its tower, objective and inputs, planned once.
private final class BenchAllreduceStep {
    let model: CLIPModel
    let method: VPTDeep
    let parameters: TrainableParameters
    let batch: Int
    let group: ProcessGroup
    let tower: VisionTower
    let objective: ContrastiveObjective
    let pixels: [Float]
    let textEmbeds: [Float]

    init(model: CLIPModel, method: VPTDeep, parameters: TrainableParameters, batch: Int, seed: UInt64,
         group: ProcessGroup) {
        self.model = model
        self.method = method
        self.parameters = parameters
        self.batch = batch
        self.group = group
        let config = model.config
        tower = VisionTower(model: model, capacity: batch, plan: method.visionPlan)
        objective = ContrastiveObjective(capacity: batch, width: config.projectionDim)
        var generator = SplitMix64(seed: seed)
        var pixels = [Float](repeating: 0, count: batch * config.vision.channels * config.vision.imageSize
                                                  * config.vision.imageSize)
        var textEmbeds = [Float](repeating: 0, count: batch * config.projectionDim)
        pixels.withUnsafeMutableBufferPointer { generator.fillNormal($0.baseAddress!, count: $0.count, std: 1) }
        textEmbeds.withUnsafeMutableBufferPointer { generator.fillNormal($0.baseAddress!, count: $0.count, std: 1) }
        self.pixels = pixels
        self.textEmbeds = textEmbeds
    }

    /// The forward and the loss's gradient of the step, gradients zeroed: what both ways share.
    private func forward() -> UnsafePointer<Float> {
        parameters.gradients.zero()
        let image = pixels.withUnsafeBufferPointer {
            tower.forward(pixels: $0.baseAddress!, prompts: method.visionPrompts(parameters.values), batch: batch)
        }
        _ = textEmbeds.withUnsafeBufferPointer {
            objective.forward(image: image, text: $0.baseAddress!, count: batch, logScale: model.logitScale)
        }
        return objective.backward().dImage
    }

    /// Forward, backward, then one blocking all-reduce of the gradients: seconds of the step and of the all-reduce.
    func blocking() -> (step: Double, communication: Double) {
        group.barrier()
        let start = DispatchTime.now().uptimeNanoseconds
        tower.backward(dEmbeds: forward(), promptGradients: method.visionPromptGradients(parameters.gradients),
                       batch: batch)
        let reduceStart = DispatchTime.now().uptimeNanoseconds
        group.allreduceSum(UnsafeMutableBufferPointer(start: parameters.gradients.storage, count: parameters.count))
        let end = DispatchTime.now().uptimeNanoseconds
        return (Double(end - start) / 1e9, Double(end - reduceStart) / 1e9)
    }

    /// Forward, backward with the buckets all-reduced as they are final, then the rest: seconds of the step and
    /// of the reduction's MPI calls (`BucketedAllreduce.Outcome.exposedSeconds`), and the buckets started early.
    func overlapped() -> (step: Double, communication: Double, buckets: Int) {
        group.barrier()
        let start = DispatchTime.now().uptimeNanoseconds
        let reduce = BucketedAllreduce(group: group, buffer: parameters.gradients.storage, range: 0..<parameters.count)
        tower.backward(dEmbeds: forward(), promptGradients: method.visionPromptGradients(parameters.gradients),
                       method: method, layout: parameters.layout, reduce: reduce)
        let outcome = reduce.finish()
        let end = DispatchTime.now().uptimeNanoseconds
        return (Double(end - start) / 1e9, outcome.exposedSeconds, outcome.overlappedBuckets)
    }

    /// One blocking all-reduce of as many floats as the gradients, alone: seconds.
    func bareAllreduce() -> Double {
        var floats = [Float](repeating: 1, count: parameters.count)
        group.barrier()
        let start = DispatchTime.now().uptimeNanoseconds
        group.allreduceSum(&floats)
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The gradients after the last step's reduction.
    func reducedGradients() -> [Float] { Array(UnsafeBufferPointer(start: parameters.gradients.storage, count: parameters.count)) }
}

/// One step of `bench allreduce`; its JSON keys are what scripts read. Times in milliseconds (see the command).
struct BenchAllreduceResult: Encodable {
    let step: Int
    let ranks: Int
    let batch: Int
    let prompts: Int
    let layers: Int
    let bytes: Int
    let blocking_step_ms: Double
    let allreduce_ms: Double
    let allreduce_mean_ms: Double
    let overlapped_step_ms: Double
    let exposed_ms: Double
    let exposed_mean_ms: Double
    let buckets: Int
    let bare_ms: Double
    let bare_mean_ms: Double
    let max_difference: Float

    var tableLine: String {
        String(format: "%4d  %16.1f  %12.3f  %18.1f  %10.3f  %7d  %7.3f  %8d  %8.1e", step, blocking_step_ms, allreduce_ms,
               overlapped_step_ms, exposed_ms, buckets, bare_ms, bytes, max_difference)
    }
}
