import Foundation
import XCTest

/// `promptcl inspect` as people run it (the built binary) on configs/inspect-vitb16.toml, CLIP ViT-B/16's
/// shapes over 12 tasks: a row for every method, parameter counts derived by hand from each method's
/// tensors, percentages of the backbone's 149,620,737 parameters, forward GFLOPs derived by hand, `--json`
/// line by line, and the config errors of `promptcl train` (exit 2, naming the file and key).
final class InspectCommandTests: XCTestCase {
    private var scratch: URL!
    private let vitB16 = TrainJob.repositoryRoot.appendingPathComponent("configs/inspect-vitb16.toml")

    /// Every method of `MethodSection.Name`, in its order.
    private let methods = ["zero-shot", "vpt-seq", "l2p", "s-prompts", "maple", "dcp", "lpi-m", "lpi-p", "dp", "cp",
                           "mpl", "vpt-nsp2", "clip-nsp2"]

    /// openai/clip-vit-base-patch16 as transformers counts it (`sum(p.numel() for p in model.parameters())`).
    private let backbone = 149_620_737

    /// Forward GFLOPs of one image-caption pair through plain ViT-B/16 CLIP, by hand (2 FLOPs per multiply-add):
    /// ```
    /// vision  patch embedding 2 * 196 * 768 * 768, then 12 layers of 197 tokens:
    ///         linears 2 * 197 * (4 * 768^2 + 2 * 768 * 3072), attention 4 * 197^2 * 768; projection 2 * 768 * 512
    /// text    12 layers of 77 tokens: 2 * 77 * (4 * 512^2 + 2 * 512 * 2048) + 4 * 77^2 * 512; projection 2 * 512 * 512
    /// ```
    /// = 35.127 + 5.960 GFLOPs: twice the 17.6 and 3.0 "GFLOPs" (multiply-adds) quoted for ViT-B/16 and
    /// CLIP's text encoder at 77 tokens.
    private var zeroShotGFLOPs: Double { visionGFLOPs + textGFLOPs }
    private var visionGFLOPs: Double {
        (2.0 * 196 * 768 * 768 + layersFLOPs(width: 768, tokens: 197, layers: 12) + 2.0 * 768 * 512) / 1e9
    }
    private var textGFLOPs: Double { (layersFLOPs(width: 512, tokens: 77, layers: 12) + 2.0 * 512 * 512) / 1e9 }

    /// `layers` layers of width D (MLP 4D) over `tokens` rows: 2 T (4 D^2 + 2 D 4D) + 4 T^2 D each.
    private func layersFLOPs(width d: Double, tokens t: Double, layers: Double) -> Double {
        let linears: Double = 2 * t * (4 * d * d + 2 * d * 4 * d)
        let attention: Double = 4 * t * t * d
        return layers * (linears + attention)
    }

    /// What `extra` prompt tokens in the input of each of ViT-B/16's 12 vision layers add, by hand.
    private func visionPromptGFLOPs(_ extra: Double) -> Double {
        (layersFLOPs(width: 768, tokens: 197 + extra, layers: 12) - layersFLOPs(width: 768, tokens: 197, layers: 12)) / 1e9
    }

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-inspect-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func inspect(_ arguments: [String], config: URL? = nil, logs: String) throws -> TrainJob.Result {
        try TrainJob.promptcl(["inspect", "--config", (config ?? vitB16).path] + arguments, ranks: nil,
                              logs: scratch.appendingPathComponent(logs), timeout: 120)
    }

    /// The `--json` lines by method, each checked to be one JSON object with every key.
    private func rows(_ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws
        -> [String: [String: Any]] {
        let result = try inspect(["--json"] + arguments, logs: "json")
        XCTAssertEqual(result.status, 0, "exit status; stderr: \(result.stderr)", file: file, line: line)
        let keys: Set = ["method", "implemented", "parameters", "parameters_per_task", "percent_of_backbone",
                         "percent_per_task", "gflops", "selected", "backbone_parameters"]
        var byMethod: [String: [String: Any]] = [:]
        for text in result.stdout.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let method = object["method"] as? String else {
                XCTFail("not a JSON object with a method: \(text)", file: file, line: line)
                continue
            }
            XCTAssertTrue(keys.isSubset(of: object.keys), "keys of \(text)", file: file, line: line)
            XCTAssertNil(byMethod[method], "\(method) printed twice", file: file, line: line)
            byMethod[method] = object
        }
        XCTAssertEqual(Set(byMethod.keys), Set(methods), "one line per method", file: file, line: line)
        return byMethod
    }

    /// One branch of DCP's cross-modal prompt attention of width D reading prompts of width E, by hand: the
    /// projection E -> D, LN_1, in_proj (3D, D) + 3D, out_proj, LN_2, MLP D -> 4D -> D, every Linear with its bias.
    private func cmpaBranch(_ d: Int, from e: Int) -> Int {
        (d * e + d) + 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d)
    }

    private func int(_ row: [String: Any]?, _ key: String) -> Int? { (row?[key] as? NSNumber)?.intValue }
    private func double(_ row: [String: Any]?, _ key: String) -> Double { (row?[key] as? NSNumber)?.doubleValue ?? .nan }

    func testTableHasARowForEveryMethodWithTheConfigsMarked() throws {
        let result = try inspect([], logs: "table")
        XCTAssertEqual(result.status, 0, "exit status; stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("backbone 149,620,737 parameters") }, "the backbone count:\n\(result.stdout)")
        for method in methods {
            let row = lines.filter { $0.dropFirst(2).hasPrefix(method + " ") }
            XCTAssertEqual(row.count, 1, "one row for \(method):\n\(result.stdout)")
            guard let text = row.first else { continue }
            XCTAssertEqual(text.hasPrefix("* "), method == "lpi-m", "only method.name's row is marked: \(text)")
            XCTAssertFalse(text.hasSuffix("not implemented"), "every method is built: \(text)")
        }
        let maple = lines.first { $0.dropFirst(2).hasPrefix("maple ") } ?? ""
        XCTAssertTrue(maple.contains("3.56M") && maple.contains("2.3761%"), "MaPLe in millions, % of backbone: \(maple)")
        let dcp = lines.first { $0.dropFirst(2).hasPrefix("dcp ") } ?? ""
        XCTAssertTrue(dcp.contains("88.24M"), "DCP: 8 CMPA modules of 11.03M and the layer-0 prompts: \(dcp)")
        let l2p = lines.first { $0.dropFirst(2).hasPrefix("l2p ") } ?? ""
        XCTAssertTrue(l2p.contains("43,520"), "thousands separators: \(l2p)")
    }

    func testParameterCountsMatchEachMethodsTensors() throws {
        let rows = try rows()
        // (total over 12 tasks, one task's)
        let expected: [String: (Int, Int)] = [
            "zero-shot": (0, 0),
            "vpt-seq": (4 * 12 * 768, 4 * 12 * 768),                  // 4 tokens x 12 layers x 768
            "vpt-nsp2": (4 * 12 * 768, 4 * 12 * 768),
            "clip-nsp2": (4 * 12 * 768, 4 * 12 * 768),
            "l2p": (10 * 5 * 768 + 10 * 512, 10 * 5 * 768 + 10 * 512),  // pool of 10 x 5 tokens, 10 keys of 512; shared
            "s-prompts": (12 * (10 * 768 + 16 * 512), 10 * 768 + 16 * 512),
            "maple": (9 * (2 * 512 + 768 * 512 + 768), 9 * (2 * 512 + 768 * 512 + 768)),
            // D1 (9 x 4), vision (16 x 4) and (768 x 4), text (16 x 4) and (512 x 4), per task
            "lpi-m": (12 * (9 * 4 + 16 * 4 + 768 * 4 + 16 * 4 + 512 * 4), 9 * 4 + 16 * 4 + 768 * 4 + 16 * 4 + 512 * 4),
            "dp": (12 * (9 * 4 + 16 * 4 + 768 * 4 + 16 * 4 + 512 * 4), 9 * 4 + 16 * 4 + 768 * 4 + 16 * 4 + 512 * 4),
            // LPI-M's, then the CPF maps' factors: VIS (8 x 4, 513 x 4, 768 x 4) and TEXT (8 x 4, 769 x 4, 512 x 4)
            "lpi-p": (12 * (5_284 + 8 * 4 + 513 * 4 + 768 * 4 + 8 * 4 + 769 * 4 + 512 * 4),
                      5_284 + 8 * 4 + 513 * 4 + 768 * 4 + 8 * 4 + 769 * 4 + 512 * 4),
            "cp": (12 * 9 * 16 * (768 + 512), 9 * 16 * (768 + 512)),    // full prompts, 9 layers x 16 tokens, both towers
            // 1 text token x 9 layers; 1 coupling at layer 0 and 2 at each of layers 1-8, 512 -> 768 with bias; shared
            "mpl": (9 * 512 + 17 * (768 * 512 + 768), 9 * 512 + 17 * (768 * 512 + 768)),
            // 16 tokens x (768 + 512) at layer 0, then 8 CMPA modules (layers 1-8) of two branches each; shared
            "dcp": (16 * (768 + 512) + 8 * (cmpaBranch(768, from: 512) + cmpaBranch(512, from: 768)),
                    16 * (768 + 512) + 8 * (cmpaBranch(768, from: 512) + cmpaBranch(512, from: 768))),
        ]
        for (method, (total, perTask)) in expected {
            let row = rows[method]
            XCTAssertEqual(row?["implemented"] as? Bool, true, "\(method) implemented")
            XCTAssertEqual(int(row, "parameters"), total, "\(method) parameters over 12 tasks")
            XCTAssertEqual(int(row, "parameters_per_task"), perTask, "\(method) parameters per task")
            XCTAssertEqual(int(row, "backbone_parameters"), backbone, "\(method) backbone")
            XCTAssertEqual(double(row, "percent_of_backbone"), 100 * Double(total) / Double(backbone), accuracy: 1e-9,
                           "\(method) percent of backbone")
            XCTAssertEqual(double(row, "percent_per_task"), 100 * Double(perTask) / Double(backbone), accuracy: 1e-9,
                           "\(method) percent per task")
        }
        XCTAssertEqual(rows.filter { $0.value["selected"] as? Bool == true }.map(\.key), ["lpi-m"], "method.name selected")
    }

    func testGFLOPsFollowThePromptTokens() throws {
        let rows = try rows()
        let zeroShot = double(rows["zero-shot"], "gflops")
        XCTAssertEqual(zeroShot, zeroShotGFLOPs, accuracy: 1e-6 * zeroShotGFLOPs, "plain CLIP ViT-B/16, by hand")
        XCTAssertEqual(zeroShot, 2 * (17.58 + 2.98), accuracy: 0.02 * zeroShot,
                       "twice the multiply-adds quoted for ViT-B/16 (17.58 G) and the text encoder at 77 tokens (2.98 G)")
        // Vision prompts lengthen every layer's sequence; text prompts at layer 0 take caption positions.
        XCTAssertEqual(double(rows["vpt-seq"], "gflops"), zeroShotGFLOPs + visionPromptGFLOPs(4),
                       accuracy: 1e-6 * zeroShotGFLOPs, "vpt-seq: 4 more tokens in 12 vision layers")
        XCTAssertEqual(double(rows["lpi-m"], "gflops"), zeroShotGFLOPs + visionPromptGFLOPs(16),
                       accuracy: 1e-6 * zeroShotGFLOPs, "lpi-m: 16 more vision tokens from layer 0 on, text still 77")
        // LPI-P: LPI-M's pair and the fusion maps at layers 1-8, 16 rows each way: 8 x 2 x (2 x 16 x 512 x 768).
        XCTAssertEqual(double(rows["lpi-p"], "gflops"), double(rows["lpi-m"], "gflops") + 8 * 4 * 16 * 768 * 512 / 1e9,
                       accuracy: 1e-6 * zeroShotGFLOPs, "lpi-p: lpi-m's pair and CPF's VIS and TEXT maps")
        // L2P: 5 x 5 selected tokens, plus a frozen image pass for the queries.
        XCTAssertEqual(double(rows["l2p"], "gflops"), zeroShotGFLOPs + visionPromptGFLOPs(25) + visionGFLOPs,
                       accuracy: 1e-6 * zeroShotGFLOPs, "l2p: 25 prompt tokens and the query pass")
        let more = try self.rows(["--set", "method.vpt.tokens=8"])
        XCTAssertEqual(int(more["vpt-seq"], "parameters"), 8 * 12 * 768, "--set method.vpt.tokens=8")
        XCTAssertGreaterThan(double(more["vpt-seq"], "gflops"), double(rows["vpt-seq"], "gflops"), "8 tokens cost more than 4")
        XCTAssertGreaterThan(double(rows["lpi-m"], "gflops"), double(rows["vpt-seq"], "gflops"), "16 tokens more than 4")
    }

    func testBadConfigKeyExits2NamingFileAndKey() throws {
        let file = scratch.appendingPathComponent("bad.toml")
        try "[tasks]\ncont = 12\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try inspect([], config: file, logs: "bad")
        XCTAssertEqual(result.status, 2, "exit status; stderr: \(result.stderr)")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line: \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("config \(file.path)") && result.stderr.contains("tasks.cont"),
                      "names the file and the key: \(result.stderr)")
        XCTAssertEqual(result.stdout, "", "no table")

        // The config's own method must fit the model (the default 4-layer random model has no 9 layers).
        try "[method]\nname = \"maple\"\n".write(to: file, atomically: true, encoding: .utf8)
        let unfit = try inspect([], config: file, logs: "unfit")
        XCTAssertEqual(unfit.status, 2, "exit status; stderr: \(unfit.stderr)")
        XCTAssertTrue(unfit.stderr.contains("config \(file.path)") && unfit.stderr.contains("method.maple.depth"),
                      "names the file and the key: \(unfit.stderr)")
        try "[method]\nname = \"dcp\"\n".write(to: file, atomically: true, encoding: .utf8)
        let deep = try inspect([], config: file, logs: "unfit-dcp")
        XCTAssertEqual(deep.status, 2, "exit status; stderr: \(deep.stderr)")
        XCTAssertTrue(deep.stderr.contains("config \(file.path)") && deep.stderr.contains("method.dcp.depth"),
                      "DCP's depth 9 on 4 layers names its key: \(deep.stderr)")
    }
}
