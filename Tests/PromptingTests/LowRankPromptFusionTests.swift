import CLIP
import Numerics
import Prompting
import TestSupport
import XCTest

/// LPI-P's tensors (`LowRankPromptFusion`): each task's LPI-M factors followed by its fusion factors (and LayerNorms
/// for the grounding code's option), one contiguous trained range per task, the official initialisation, and the
/// depth fusion needs. (Its step against torch, and its training, are in ContinualTests' CoupledStepTests.)
final class LowRankPromptFusionTests: XCTestCase {
    private func method(depth: Int = 3, normalization: CrossModalPromptFusion.Normalization = .none,
                        tasks: Int = 3) throws -> LowRankPromptFusion {
        var settings = LPISettings()
        settings.depth = depth
        settings.tokens = 2
        settings.rank = 4
        settings.fusionNormalization = normalization
        var similarity = [Float](repeating: 0, count: tasks * tasks)
        for t in 0..<tasks { similarity[t * tasks + t] = 1 }
        return try LowRankPromptFusion(name: "lpi-p", model: twoTowerCLIPConfig, taskCount: tasks, settings: settings,
                                       taskNameSimilarity: similarity)
    }

    func testEachTaskDeclaresLPIMsFactorsThenItsFusionFactors() throws {
        for normalization in CrossModalPromptFusion.Normalization.allCases {
            let lpip = try method(normalization: normalization)
            var layout = ParameterLayout()
            lpip.declare(into: &layout)
            let (dv, dl) = (16, 8)
            var expected: [(String, [Int])] = []
            for t in 0..<3 {
                expected += [("lpi.task\(t).d1", [3, 4]), ("lpi.task\(t).vision.d2", [2, 4]), ("lpi.task\(t).vision.d3", [dv, 4]),
                             ("lpi.task\(t).text.d2", [2, 4]), ("lpi.task\(t).text.d3", [dl, 4]),
                             ("cpf.task\(t).vision.d1", [2, 4]), ("cpf.task\(t).vision.d2", [dl + 1, 4]),
                             ("cpf.task\(t).vision.d3", [dv, 4]), ("cpf.task\(t).text.d1", [2, 4]),
                             ("cpf.task\(t).text.d2", [dv + 1, 4]), ("cpf.task\(t).text.d3", [dl, 4])]
                if normalization == .layerNorm {
                    expected += [("cpf.task\(t).vision.norm.weight", [dv]), ("cpf.task\(t).vision.norm.bias", [dv]),
                                 ("cpf.task\(t).text.norm.weight", [dl]), ("cpf.task\(t).text.norm.bias", [dl])]
                }
            }
            XCTAssertEqual(layout.entries.map(\.name), expected.map(\.0), "\(normalization): tensors in order")
            XCTAssertEqual(layout.entries.map(\.shape), expected.map(\.1), "\(normalization): shapes")
            // Task 1's range: from its d1 to its last fusion tensor, nothing of tasks 0 and 2.
            let range = lpip.trainedRange(task: 1, in: layout)
            let inside = layout.entries.filter { range.contains($0.offset) }.map(\.name)
            XCTAssertEqual(inside, expected.map(\.0).filter { $0.contains("task1.") }, "\(normalization): task 1's range")
            XCTAssertEqual(range.count, layout.count / 3, "\(normalization): a third of the buffer")
        }
    }

    /// LPI-M's tensors start as lpi-m's with the same seed; every CPF factor is U(-1/sqrt(r), 1/sqrt(r)) = U(-0.5, 0.5)
    /// at r = 4 (the grounding code's kaiming_uniform_(a = sqrt(5))), spread over that interval; LayerNorms at 1 and 0.
    func testInitialisationFollowsLPIMAndTheOfficialFusionCode() throws {
        let lpip = try method(normalization: .layerNorm)
        var layout = ParameterLayout()
        lpip.declare(into: &layout)
        let values = ParameterBuffer(layout: layout)
        lpip.initialize(values, seed: 42)

        var baseLayout = ParameterLayout()
        lpip.base.declare(into: &baseLayout)
        let baseValues = ParameterBuffer(layout: baseLayout)
        lpip.base.initialize(baseValues, seed: 42)
        for entry in baseLayout.entries {
            XCTAssertEqual(values.values(entry.name), baseValues.values(entry.name), "\(entry.name) as lpi-m draws it")
        }
        var factors: [Float] = []
        for t in 0..<3 {
            for name in lpip.fusionNames(task: t) {
                let tensor = values.values(name)
                if name.hasSuffix("norm.weight") {
                    XCTAssertEqual(Set(tensor), [1], "\(name) starts at 1")
                } else if name.hasSuffix("norm.bias") {
                    XCTAssertEqual(Set(tensor), [0], "\(name) starts at 0")
                } else {
                    factors += tensor
                }
            }
        }
        XCTAssertEqual(factors.count, 3 * (2 + 9 + 16 + 2 + 17 + 8) * 4, "every factor of the three tasks")
        XCTAssertTrue(factors.allSatisfy { abs($0) <= 0.5 }, "inside U(-0.5, 0.5): \(factors.map(abs).max() ?? 0)")
        XCTAssertGreaterThan(factors.map(abs).max() ?? 0, 0.45, "spread to the bound")
        let mean = factors.reduce(0, +) / Float(factors.count)
        let variance = factors.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(factors.count)
        XCTAssertEqual(variance, 1 / 12, accuracy: 0.015, "the variance of U(-0.5, 0.5) is 1/12")
        XCTAssertEqual(mean, 0, accuracy: 0.05, "centred")
    }

    func testFusionNeedsTwoPromptedLayers() throws {
        XCTAssertThrowsError(try method(depth: 1), "one prompted layer has nothing to fuse") { error in
            XCTAssertTrue("\(error)".contains("prompt depth 1 is outside 2...3"), "\(error)")
        }
        XCTAssertThrowsError(try method(depth: 4), "deeper than the towers") { error in
            XCTAssertTrue("\(error)".contains("prompt depth 4 is outside 2...3"), "\(error)")
        }
    }
}
