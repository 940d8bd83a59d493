import ArgumentParser
import CLIP
import Dispatch
import Foundation
import Numerics
import Prompting

/// `promptcl bench lpi-p`: what LPI-P's cross-modal fusion costs. One training step of LPI-M (both towers' forward
/// and backward on B pairs, CLIP's loss) against one of LPI-P (stage A: the vision tower and the text prefix in
/// lock-step with CPF; stage B: every image's B captions through the text tower twice, for the loss and again before
/// its backward; the loss over all B^2 pairs), on CLIP ViT-B/16 shapes with random weights, LPI's settings (D 9,
/// L 16), captions of a fixed length. Prompts and maps are random tensors: the CP compositions cost nothing here.
struct BenchLPIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpi-p",
        abstract: "Time an LPI-P step (B^2 conditioned captions) against an LPI-M step on ViT-B/16 shapes."
    )

    @Option(name: .customLong("batch"), help: "Batch size; repeat for several (default: 4 and 16).")
    var batches: [Int] = []

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed steps per measurement (after one warm-up step); the fastest is reported.")
    var steps = 1

    @Option(help: "Caption length in tokens, SOT and EOT included.")
    var captionTokens = 20

    @Flag(help: "Print one JSON object per measurement instead of a table row.")
    var json = false

    func validate() throws {
        guard batches.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch must be positive") }
        guard threads.map({ $0 > 0 }) ?? true else { throw ValidationError("--threads must be positive") }
        guard steps > 0 else { throw ValidationError("--steps must be positive") }
        guard captionTokens >= 2 && captionTokens <= 77 - 16 else {
            throw ValidationError("--caption-tokens must be in 2...61 (77 positions less 16 prompts)")
        }
    }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        ComputeThreads.set(threads ?? cores)
        let model = CLIPModel.random(config: .vitBase16, seed: 1)
        if !json {
            print("LPI-M against LPI-P steps, CLIP ViT-B/16 (random weights), D 9, L 16, captions of \(captionTokens) tokens, "
                  + "\(threads ?? cores) threads")
            print("batch  lpi-m ms  lpi-p ms  ratio  stage A ms  stage B fwd ms  stage B bwd ms  lpi-p workspace MiB")
        }
        for batch in batches.isEmpty ? [4, 16] : batches {
            let result = try measure(model: model, batch: batch)
            print(json ? try jsonLine(result) : result.tableLine)
        }
    }

    private func measure(model: CLIPModel, batch: Int) throws -> BenchLPIPResult {
        let config = model.config
        let (depth, tokens, dv, dl, e) = (9, 16, config.vision.encoder.hiddenSize, config.text.encoder.hiddenSize,
                                          config.projectionDim)
        var generator = SplitMix64(seed: 7)
        func random(_ count: Int, std: Float) -> UnsafeMutablePointer<Float> {
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            generator.fillNormal(pointer, count: count, std: std)
            return pointer
        }
        func zeros(_ count: Int) -> UnsafeMutablePointer<Float> {
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            pointer.initialize(repeating: 0, count: count)
            return pointer
        }
        let pixels = random(batch * 3 * 224 * 224, std: 1)
        let pv = random(depth * tokens * dv, std: 0.02), pl = random(depth * tokens * dl, std: 0.02)
        let dPV = zeros(depth * tokens * dv), dPL = zeros(depth * tokens * dl)
        let visMap = random((depth - 1) * (dl + 1) * dv, std: 0.01), textMap = random((depth - 1) * (dv + 1) * dl, std: 0.01)
        let dVisMap = zeros((depth - 1) * (dl + 1) * dv), dTextMap = zeros((depth - 1) * (dv + 1) * dl)
        let texts = zeros(batch * batch * e)
        defer { [pixels, pv, pl, dPV, dPL, visMap, textMap, dVisMap, dTextMap, texts].forEach { $0.deallocate() } }
        var ids = [Int32](repeating: Int32(config.text.padTokenID), count: batch * config.text.contextLength)
        for b in 0..<batch {
            ids[b * config.text.contextLength] = Int32(config.text.bosTokenID)
            for t in 1..<(captionTokens - 1) { ids[b * config.text.contextLength + t] = Int32(1 + (b * 31 + t * 7) % 40000) }
            ids[b * config.text.contextLength + captionTokens - 1] = Int32(config.text.eosTokenID)
        }
        let visionValues = (0..<depth).map { PromptValues(pv + $0 * tokens * dv) }
        let textValues = (0..<depth).map { PromptValues(pl + $0 * tokens * dl) }
        let visionGradients = (0..<depth).map { PromptGradient(dPV + $0 * tokens * dv) as PromptGradient? }
        let textGradients = (0..<depth).map { PromptGradient(dPL + $0 * tokens * dl) as PromptGradient? }

        // LPI-M: the two towers on B pairs.
        let plan = try PromptPlan(sites: (0..<depth).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : .add) },
                                  layers: config.vision.encoder.layers)
        let vision = VisionTower(model: model, capacity: batch, plan: plan)
        let text = TextTower(model: model, capacity: batch, plan: plan)
        let clip = ContrastiveObjective(capacity: batch, width: e)
        let lpiM = fastest {
            let image = vision.forward(pixels: pixels, prompts: visionValues, batch: batch)
            let caption = ids.withUnsafeBufferPointer { text.forward(ids: $0.baseAddress!, prompts: textValues, batch: batch) }
            _ = clip.forward(image: image, text: caption, count: batch, logScale: model.logitScale)
            let (dImage, dText, _) = clip.backward()
            vision.backward(dEmbeds: dImage, promptGradients: visionGradients, batch: batch)
            text.backward(dEmbeds: dText, promptGradients: textGradients, batch: batch)
        }

        // LPI-P: stage A, stage B for every image, the loss over B^2 pairs, and back.
        let stage = try CrossModalLockStep(model: model, depth: depth, tokens: tokens, momentum: 0.9, normalization: .none,
                                           capacity: batch)
        let captions = try ConditionedTextTower(model: model, depth: depth, tokens: tokens, capacity: batch)
        let objective = ConditionedContrastiveObjective(capacity: batch, width: e)
        let maps = Array(repeating: CrossModalPromptFusion.Maps(vision: visMap, text: textMap), count: batch)
        let mapGradients = Array(repeating: CrossModalPromptFusion.MapGradients(vision: dVisMap, text: dTextMap), count: batch)
        var split = (stageA: Double.infinity, forward: Double.infinity, backward: Double.infinity)
        let lpiP = fastest {
            var clock = DispatchTime.now().uptimeNanoseconds
            func lap() -> Double {
                let now = DispatchTime.now().uptimeNanoseconds
                defer { clock = now }
                return Double(now - clock) / 1e6
            }
            let image = stage.forward(pixels: pixels, startOfText: Int32(config.text.bosTokenID), visionPrompts: visionValues,
                                      textPrompts: textValues, maps: maps, batch: batch)
            var stageA = lap()
            ids.withUnsafeBufferPointer { idsBuffer in
                for i in 0..<batch {
                    let embeds = captions.forward(ids: idsBuffer.baseAddress!, count: batch, stage: stage, image: i,
                                                  firstPrompt: textValues[0])
                    (texts + i * batch * e).update(from: embeds, count: batch * e)
                }
            }
            let forward = lap()
            _ = objective.forward(image: image, texts: texts, count: batch, logScale: model.logitScale)
            let (dImage, dTexts, _) = objective.backward()
            ids.withUnsafeBufferPointer { idsBuffer in
                for i in 0..<batch {
                    captions.forward(ids: idsBuffer.baseAddress!, count: batch, stage: stage, image: i, firstPrompt: textValues[0])
                    captions.backward(dEmbeds: dTexts + i * batch * e, stage: stage,
                                      firstPromptGradient: textGradients[0])
                }
            }
            let backward = lap()
            stage.backward(dEmbeds: dImage, visionPromptGradients: visionGradients, textPromptGradients: textGradients,
                           mapGradients: mapGradients)
            stageA += lap()
            split = (min(split.stageA, stageA), min(split.forward, forward), min(split.backward, backward))
        }
        let workspace = stage.workspaceBytes + captions.text.workspaceBytes
        return BenchLPIPResult(batch: batch, lpi_m_ms: lpiM * 1e3, lpi_p_ms: lpiP * 1e3, ratio: lpiP / lpiM,
                               stage_a_ms: split.stageA, stage_b_forward_ms: split.forward,
                               stage_b_backward_ms: split.backward, lpi_p_workspace_mib: Double(workspace) / 1_048_576)
    }

    /// The fastest of `steps` timed runs of `body`, after a warm-up run, in seconds.
    private func fastest(_ body: () -> Void) -> Double {
        var best = Double.infinity
        for step in 0...steps {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            if step > 0 { best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        }
        return best
    }
}

/// One measurement of `bench lpi-p`; its JSON keys are what scripts read.
struct BenchLPIPResult: Encodable {
    let batch: Int
    let lpi_m_ms: Double
    let lpi_p_ms: Double
    let ratio: Double
    let stage_a_ms: Double
    let stage_b_forward_ms: Double
    let stage_b_backward_ms: Double
    let lpi_p_workspace_mib: Double

    var tableLine: String {
        String(format: "%5d  %8.0f  %8.0f  %5.1f  %10.0f  %14.0f  %14.0f  %19.0f", batch, lpi_m_ms, lpi_p_ms, ratio,
               stage_a_ms, stage_b_forward_ms, stage_b_backward_ms, lpi_p_workspace_mib)
    }
}
