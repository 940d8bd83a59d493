import ArgumentParser
import CLIP
import Dispatch
import Distributed
import Foundation
import Numerics
import Prompting

/// `promptcl bench nullspace`: what NSP2's update after a task costs (DESIGN.md, "Null space"), on ViT-B/16
/// shapes with random weights and random pixels.
///
/// ```
/// statistics  one eval forward of a VPT-deep tower (prompts in every measured layer), then the same attention
///             records of every prompted layer into each route's accumulator:
///               factored: per-head QR of the image queries (LayerNullSpaceStatistics), DESIGN.md's default
///               gram:     Omega1's rows Q_h W_k,h and their D x D Gram (GramNullSpaceStatistics), the official code's
///             factored_s, gram_s   seconds per batch, all prompted layers, steady state (each accumulator
///                                  already holds one batch, so the QR stacks on an existing R)
///             factored_end_s, gram_end_s   the end-of-pass factors of all layers (channelFactor + tokenFactor:
///                                  M = [R_h W_k,h] against dsyevd of the Gram), once per pass, not per batch
///             forward_s            the eval forward itself, for scale
///             on rank 0 alone (the other ranks wait, sleeping)
/// svd         one layer's merge after a task, for each rank count k: a subgroup of the first k ranks holds
///             [F_old (D x D, rank 0) ; M_0 ; ... ; M_{k-1}]   M_r: rows x D, random (the factored route's
///             M is 12 heads x 64 = 768 rows), and DistributedSVD.compute(..., rightVectors: true) times it
///             by each route (PDGESVD, PDGEQRF + dgesdd of R); the slowest member's time; the other ranks
///             wait at a barrier, sleeping
/// ```
/// Every time is the best of `--repeats`. Rank 0 prints: a table, or with `--json` one object per
/// measurement (`BenchNullSpaceStatisticsResult`, `BenchNullSpaceSVDResult`).
struct BenchNullSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nullspace",
        abstract: "Time NSP2's statistics pass (factored against Gram) and the distributed SVD after a task."
    )

    @Option(name: .customLong("batch"), help: "Batch size of the statistics pass; repeat for several (default: 8).")
    var batches: [Int] = []

    @Option(help: "Threads per rank (OpenBLAS and the kernels).")
    var threads = 1

    @Option(help: "Timed repeats per measurement; the fastest is reported.")
    var repeats = 3

    @Option(help: "Prompt tokens per layer.")
    var prompts = 4

    @Option(help: "Encoder layers of the ViT-B/16 vision tower (its first ones), all prompted and measured.")
    var layers = CLIPConfig.vitBase16VisionBenchmark.vision.encoder.layers

    @Option(name: .customLong("svd-rows"), help: "Rows of each rank's factor in the SVD (768: 12 heads x 64).")
    var svdRows = 768

    @Option(name: .customLong("ranks"),
            help: "Ranks of the SVD; repeat for several; counts above the job's size are skipped (default: 1 and the job's size).")
    var rankCounts: [Int] = []

    @Flag(help: "Print one JSON object per measurement instead of a table row.")
    var json = false

    func validate() throws {
        guard batches.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch must be positive") }
        guard rankCounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--ranks must be positive") }
        guard threads > 0, repeats > 0, prompts > 0, svdRows > 0 else {
            throw ValidationError("--threads, --repeats, --prompts and --svd-rows must be positive")
        }
        let most = CLIPConfig.vitBase16VisionBenchmark.vision.encoder.layers
        guard (1...most).contains(layers) else { throw ValidationError("--layers must be in 1...\(most)") }
    }

    func run() throws {
        let world = ProcessGroup.world
        ComputeThreads.set(threads)
        var config = CLIPConfig.vitBase16VisionBenchmark
        config.vision.encoder.layers = layers

        if world.isRoot {
            if !json {
                print("nullspace statistics, ViT-B/16 vision (\(layers) x 768, 12 heads, patch 16, 224 px), vpt-deep "
                      + "\(prompts) prompts x \(layers) layers, \(threads) thread(s), best of \(repeats)")
                print("seconds per batch over all prompted layers; end: the factors after the pass, once per pass")
                print("batch  forward s  factored s     gram s  gram/factored  factored end s  gram end s")
            }
            let model = CLIPModel.random(config: config, seed: 1)
            for batch in batches.isEmpty ? [8] : batches {
                let row = try measureStatistics(model: model, batch: batch)
                print(json ? try jsonLine(row) : row.tableLine)
                fflush(stdout)
            }
        }
        world.barrierSleeping()

        let d = config.vision.encoder.hiddenSize
        let counts = rankCounts.isEmpty ? Array(Set([1, world.size])).sorted() : rankCounts
        if world.isRoot && !json {
            print("")
            print("nullspace SVD of one layer's merge, with V^T: \(d) columns, \(svdRows) rows per rank + the previous "
                  + "\(d) x \(d) factor on rank 0, \(threads) thread(s) per rank, best of \(repeats)")
            print("route  ranks  total rows  seconds")
        }
        for k in counts {
            guard k <= world.size else {
                if world.isRoot { fputs("promptcl bench nullspace: --ranks \(k) skipped: the job has \(world.size) rank(s)\n", stderr) }
                continue
            }
            for row in measureSVD(ranks: k, columns: d, world: world) where world.isRoot {
                print(json ? try jsonLine(row) : row.tableLine)
                fflush(stdout)
            }
        }
    }

    /// The statistics measurement of one batch size (rank 0 alone).
    private func measureStatistics(model: CLIPModel, batch: Int) throws -> BenchNullSpaceStatisticsResult {
        let config = model.config.vision
        let method = try VPTDeep(config: config, tokens: prompts, initialization: .uniformUnit)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 2)
        let keyWeights = method.layers.map { model.weights["vision_model.encoder.layers.\($0).self_attn.k_proj.weight"] }

        let pixelCount = batch * config.channels * config.imageSize * config.imageSize
        let pixels = UnsafeMutablePointer<Float>.allocate(capacity: pixelCount)
        defer { pixels.deallocate() }
        var generator = SplitMix64(seed: 3)
        generator.fillNormal(pixels, count: pixelCount, std: 1)
        let tower = VisionTower(model: model, capacity: batch, plan: method.visionPlan)
        let values = method.visionPrompts(parameters.values)
        let forward = best { _ = tower.forward(pixels: pixels, prompts: values, batch: batch) }
        // The last forward's records: valid until the next forward, which never comes.
        let records = method.layers.map { tower.attentionRecord(layer: $0, batch: batch) }

        func timeRoute(_ route: NullSpaceStatisticsRoute) throws -> (perBatch: Double, end: Double) {
            var perBatch = Double.infinity, end = Double.infinity
            for _ in 0..<repeats {
                var accumulators = records.map {
                    route.makeAccumulator(heads: $0.heads, headSize: $0.headSize, promptTokens: $0.promptRows.count)
                }
                for i in records.indices { try accumulators[i].accumulate(records[i], keyWeight: keyWeights[i]) }
                perBatch = min(perBatch, try seconds {
                    for i in records.indices { try accumulators[i].accumulate(records[i], keyWeight: keyWeights[i]) }
                })
                end = min(end, try seconds {
                    for i in records.indices {
                        _ = try accumulators[i].channelFactor(keyWeight: keyWeights[i])
                        _ = try accumulators[i].tokenFactor()
                    }
                })
            }
            return (perBatch, end)
        }
        let factored = try timeRoute(.factored)
        let gram = try timeRoute(.gram)
        return BenchNullSpaceStatisticsResult(batch: batch, threads: threads, layers: method.layers.count, prompts: prompts,
                                              factored_s: factored.perBatch, gram_s: gram.perBatch, forward_s: forward,
                                              factored_end_s: factored.end, gram_end_s: gram.end)
    }

    /// The SVD measurements on the first `ranks` ranks, every route; collective over `world`. Results on
    /// rank 0 (the others return them too, unprinted).
    private func measureSVD(ranks k: Int, columns d: Int, world: ProcessGroup) -> [BenchNullSpaceSVDResult] {
        let group = world.prefix(k)
        var local: [Double] = []
        if let group {
            var generator = SplitMix64(seed: 100 + UInt64(group.rank))
            local = (0..<((svdRows + (group.isRoot ? d : 0)) * d)).map { _ in Double(generator.nextNormal()) }
        }
        let totalRows = k * svdRows + d
        var results: [BenchNullSpaceSVDResult] = []
        for route in [DistributedSVD.Route.svd, .qr] {
            var fastest = Double.infinity
            for _ in 0..<repeats {
                world.barrier()
                if let group {
                    do {
                        let mine = try seconds {
                            _ = try DistributedSVD.compute(localRows: local, columns: d, rightVectors: true, route: route,
                                                           group: group)
                        }
                        fastest = min(fastest, group.allreduce(mine, .max))
                    } catch {
                        world.abort(message: "bench nullspace: \(route) SVD on \(k) rank(s): \(error)")
                    }
                }
                world.barrierSleeping()
            }
            results.append(BenchNullSpaceSVDResult(route: route.rawValue, ranks: k, rows: svdRows, total_rows: totalRows,
                                                   columns: d, threads: threads, seconds: fastest))
        }
        return results
    }

    /// The fastest of `repeats` runs of `body`, in seconds.
    private func best(_ body: () throws -> Void) rethrows -> Double {
        var fastest = Double.infinity
        for _ in 0..<repeats { fastest = min(fastest, try seconds(body)) }
        return fastest
    }
}

/// Wall seconds of one run of `body`.
private func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// One statistics measurement of `bench nullspace`; its JSON keys are what scripts read. Times in seconds:
/// `factored_s`, `gram_s` per batch (all `layers`), `factored_end_s`, `gram_end_s` once per pass, `forward_s`
/// the eval forward of the batch.
struct BenchNullSpaceStatisticsResult: Encodable {
    var measure = "statistics"
    let batch: Int
    let threads: Int
    let layers: Int
    let prompts: Int
    let factored_s: Double
    let gram_s: Double
    let forward_s: Double
    let factored_end_s: Double
    let gram_end_s: Double

    var tableLine: String {
        String(format: "%5d  %9.4f  %10.4f  %9.4f  %12.1fx  %14.4f  %10.4f", batch, forward_s, factored_s, gram_s,
               gram_s / factored_s, factored_end_s, gram_end_s)
    }
}

/// One SVD measurement of `bench nullspace`: `route` (`svd`, `qr`) on `ranks` ranks, `rows` per rank and
/// `total_rows` in the stacked matrix (the previous D x D factor included), `columns` = D; `seconds` of the
/// slowest rank.
struct BenchNullSpaceSVDResult: Encodable {
    var measure = "svd"
    let route: String
    let ranks: Int
    let rows: Int
    let total_rows: Int
    let columns: Int
    let threads: Int
    let seconds: Double

    var tableLine: String {
        route.padding(toLength: 5, withPad: " ", startingAt: 0) + String(format: "  %5d  %10d  %7.3f", ranks, total_rows, seconds)
    }
}
