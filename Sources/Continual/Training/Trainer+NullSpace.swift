import CLIP
import Distributed
import Foundation
import Prompting

extension Trainer {
    /// NSP2's statistics after `task` (not the last), on every rank (DESIGN.md, "Null space"):
    /// ```
    /// rank r: samples r, r + P, r + 2P, ... of the task's training set, in batches of the local capacity:
    ///         eval forward with the current prompts; every prompted layer's accumulator takes its attention
    ///         record -> F1_r (rows, D), F2_r (rows, L)
    /// per layer and condition: [F_old (rank 0 only) ; F_0 ; ... ; F_{P-1}] -> DistributedSVD -> s, V^T on every rank
    ///         merged factor = (s, V^T): rank-independent, the next task's F_old
    /// method.adopt(merged, current prompts)  -> P1, P2 per layer and L_LN's reference
    /// ```
    func updateNullSpace(after task: Int, method: NullSpacePromptTuning, indices: [Int]) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let settings = config.method.nsp2
        let encoder = model.config.vision.encoder
        var accumulators = zip(method.layers, method.visionPlan.sites).map { _, site in
            settings.statistics.makeAccumulator(heads: encoder.attentionHeads, headSize: encoder.headSize,
                                                promptTokens: site.tokens)
        }
        let keyWeights = method.layers.map { model.weights["vision_model.encoder.layers.\($0).self_attn.k_proj.weight"] }
        let shard = stride(from: group.rank, to: indices.count, by: group.size).map { indices[$0] }
        let prompts = method.visionPrompts(parameters.values)
        for start in stride(from: 0, to: shard.count, by: localBatch) {
            let batch = Array(shard[start..<min(start + localBatch, shard.count)])
            loader.loadPixels(batch)
            _ = vision.forward(pixels: loader.pixels, prompts: prompts, batch: batch.count)
            for (i, layer) in method.layers.enumerated() {
                try accumulators[i].accumulate(vision.attentionRecord(layer: layer, batch: batch.count),
                                               keyWeight: keyWeights[i])
            }
        }
        let collected = DispatchTime.now().uptimeNanoseconds

        var merged: [LayerNullSpaceFactors] = []
        for (i, layer) in method.layers.enumerated() {
            let previous = method.factors.isEmpty ? nil : method.factors[i]
            let rows = Int(group.allreduce(Int64(accumulators[i].rowsSeen), .sum))
            let channel = try mergedFactor(try accumulators[i].channelFactor(keyWeight: keyWeights[i]),
                                           columns: encoder.hiddenSize, previous: previous?.channel, rows: rows,
                                           route: settings.svdRoute)
            let token = try mergedFactor(try accumulators[i].tokenFactor(), columns: method.visionPlan.sites[i].tokens,
                                         previous: previous?.token, rows: rows, route: settings.svdRoute)
            merged.append(LayerNullSpaceFactors(layer: layer, channel: channel, token: token))
        }
        let decomposed = DispatchTime.now().uptimeNanoseconds
        try method.adopt(merged, values: parameters.values)
        try observer?.nullSpaceUpdated(NullSpaceRecord(
            task: task, samples: indices.count,
            statisticsSeconds: Double(collected - started) / 1e9, svdSeconds: Double(decomposed - collected) / 1e9,
            layers: zip(merged, method.projectors).map { factor, projectors in
                NullSpaceRecord.Layer(layer: factor.layer, rows: factor.channel.rowsSeen,
                                      channelNullity: projectors.channel.nullity, tokenNullity: projectors.token.nullity)
            }), factors: merged)
    }

    /// The SVD of [previous (rank 0) ; every rank's `local` rows]: the merged factor of one condition.
    private func mergedFactor(_ local: (values: [Double], rows: Int), columns: Int, previous: NullSpaceFactor?,
                              rows: Int, route: DistributedSVD.Route) throws -> NullSpaceFactor {
        var stacked = local.values
        if group.rank == 0, let previous { stacked = previous.stackedRows + stacked }
        let result = try DistributedSVD.compute(localRows: stacked, columns: columns, rightVectors: true, route: route,
                                                group: group)
        return try NullSpaceFactor(columns: columns, singularValues: result.singularValues,
                                   rightSingularVectors: result.rightSingularVectorsTransposed ?? [],
                                   rowsSeen: (previous?.rowsSeen ?? 0) + rows)
    }
}
