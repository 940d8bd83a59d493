import Foundation
import Numerics
import TOMLKit
import TestSupport
import XCTest
@testable import Continual

/// The run-config loader: defaults, unknown keys, types, validation, `--set` overrides, syntax and file
/// errors, and config.toml's round trip.
final class ConfigLoaderTests: XCTestCase {
    private let source = "run.toml"
    private let topLevelKeys = ["checkpoint", "data", "evaluation", "loss", "method", "model", "optimizer", "schedule", "seed", "tasks", "train"]
    private let optimizerKeys = ["beta1", "beta2", "eps", "kind", "lr", "momentum", "nesterov", "weight_decay"]

    private func load(_ toml: String, _ overrides: [String] = []) throws -> TrainingConfig {
        try ConfigLoader.load(toml: toml, source: source, overrides: overrides)
    }

    /// Asserts that `body` throws exactly `expected`.
    private func assertThrows(_ expected: ConfigError, _ message: String, file: StaticString = #filePath,
                              line: UInt = #line, _ body: () throws -> TrainingConfig) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
            XCTAssertEqual(error as? ConfigError, expected, message, file: file, line: line)
        }
    }

    // MARK: Defaults

    func testEmptyFileGivesTheDefaults() throws {
        XCTAssertEqual(try load(""), TrainingConfig(), "an empty file is TrainingConfig()")
        XCTAssertEqual(try load("# only a comment\n\n"), TrainingConfig(), "a file of comments is TrainingConfig()")
    }

    func testFileChangesOnlyTheKeysItGives() throws {
        let config = try load("""
            seed = 7
            [optimizer]
            lr = 0.001
            [method.vpt]
            tokens = 8
            """)
        var expected = TrainingConfig()
        expected.seed = 7
        expected.optimizer.lr = 0.001
        expected.method.vpt.tokens = 8
        XCTAssertEqual(config, expected, "seed, optimizer.lr and method.vpt.tokens change; every other key is default")
    }

    // MARK: Unknown keys

    func testUnknownKeyIsRejectedWithTheKeysItsTableHas() {
        assertThrows(.inSource(source, .unknownKey(key: "optimizer.lrr", known: optimizerKeys)),
                     "a misspelt key of [optimizer]") { try load("[optimizer]\nlrr = 0.1") }
        assertThrows(.inSource(source, .unknownKey(key: "sead", known: topLevelKeys)),
                     "a misspelt top-level key") { try load("sead = 1") }
        assertThrows(.inSource(source, .unknownKey(key: "method.vpt.token", known: ["initialization", "layers", "tokens"])),
                     "a misspelt key two tables down") { try load("[method.vpt]\ntoken = 1") }
    }

    func testMisspeltSectionIsAnUnknownKey() {
        assertThrows(.inSource(source, .unknownKey(key: "optimiser", known: topLevelKeys)),
                     "[optimiser] is no section") { try load("[optimiser]\nlr = 0.1") }
        assertThrows(.inSource(source, .unknownKey(key: "method.vtp", known: ["dcp", "l2p", "lpi", "maple", "mpl", "name", "nsp2", "sprompts", "task_identity", "vpt"])),
                     "[method.vtp] is no sub-table of [method]") { try load("[method.vtp]\ntokens = 2") }
    }

    func testKeyUnderAValueIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "optimizer.lr", expected: "a float", found: "a table { x = 1 }")),
                     "[optimizer.lr] makes a table of a float key") { try load("[optimizer.lr]\nx = 1") }
        assertThrows(.inSource(source, .wrongType(key: "seed", expected: "an integer", found: "a table { x = 1 }")),
                     "seed.x makes a table of an integer key") { try load("seed.x = 1") }
    }

    // MARK: Types

    func testIntegerIsTakenForAFloat() throws {
        let config = try load("""
            [optimizer]
            lr = 1
            [schedule]
            kind = "step"
            milestones = [1, 2]
            [tasks]
            epochs = 3
            """)
        XCTAssertEqual(config.optimizer.lr, 1, "lr = 1 is the Float 1")
        XCTAssertEqual(config.schedule.milestones, [1, 2], "milestones = [1, 2] are the Doubles 1 and 2")
    }

    func testFloatForAnIntegerIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "seed", expected: "an integer", found: "a float 1.5")),
                     "seed = 1.5") { try load("seed = 1.5") }
        assertThrows(.inSource(source, .wrongType(key: "tasks.count", expected: "an integer", found: "a float 3.0")),
                     "a whole float is still a float") { try load("[tasks]\ncount = 3.0") }
    }

    func testStringForANumberIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "optimizer.lr", expected: "a float", found: "a string \"0.1\"")),
                     "lr = \"0.1\"") { try load("[optimizer]\nlr = \"0.1\"") }
        assertThrows(.inSource(source, .wrongType(key: "seed", expected: "an integer", found: "a string \"1\"")),
                     "seed = \"1\"") { try load("seed = \"1\"") }
    }

    func testNumberForAStringIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "loss.template", expected: "a string", found: "an integer 3")),
                     "template = 3") { try load("[loss]\ntemplate = 3") }
        assertThrows(.inSource(source, .wrongType(key: "method.name", expected: "a string", found: "a float 1.0")),
                     "an enum key takes a string") { try load("[method]\nname = 1.0") }
    }

    func testNonBooleanForABooleanIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "optimizer.nesterov", expected: "a boolean", found: "an integer 1")),
                     "nesterov = 1") { try load("[optimizer]\nnesterov = 1") }
    }

    func testValueForATableIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "optimizer", expected: "a table", found: "an integer 3")),
                     "optimizer = 3") { try load("optimizer = 3") }
        assertThrows(.inSource(source, .wrongType(key: "method.vpt", expected: "a table", found: "a string \"deep\"")),
                     "method.vpt = \"deep\"") { try load("[method]\nvpt = \"deep\"") }
    }

    func testValueForAnArrayIsAWrongType() {
        assertThrows(.inSource(source, .wrongType(key: "method.vpt.layers", expected: "an array", found: "an integer 3")),
                     "layers = 3") { try load("[method.vpt]\nlayers = 3") }
    }

    func testElementsOfArraysEmptyByDefaultAreChecked() {
        assertThrows(.inSource(source, .wrongType(key: "method.vpt.layers[1]", expected: "an integer", found: "a float 1.5")),
                     "layers is [Int], though its default [] says nothing") { try load("[method.vpt]\nlayers = [0, 1.5]") }
        assertThrows(.inSource(source, .wrongType(key: "schedule.milestones[0]", expected: "a float",
                                                  found: "a string \"a\"")),
                     "milestones is [Double], though its default [] says nothing") {
            try load("[schedule]\nmilestones = [\"a\"]")
        }
    }

    func testUnknownEnumValueListsEveryCase() {
        assertThrows(.inSource(source, .invalid(key: "method.name", problem: "must be one of: zero-shot, vpt-seq, l2p, s-prompts, maple, dcp, lpi-m, lpi-p, dp, cp, mpl, vpt-nsp2, clip-nsp2; got \"vtp\"")),
                     "method.name = \"vtp\"") { try load("[method]\nname = \"vtp\"") }
        assertThrows(.inSource(source, .invalid(key: "optimizer.kind", problem: "must be one of: adam, adamw, sgd; got \"adamx\"")),
                     "optimizer.kind = \"adamx\"") { try load("[optimizer]\nkind = \"adamx\"") }
        assertThrows(.inSource(source, .invalid(key: "schedule.kind", problem: "must be one of: constant, cosine, step; got \"linear\"")),
                     "schedule.kind = \"linear\"") { try load("[schedule]\nkind = \"linear\"") }
    }

    // MARK: Validation and error text

    func testValuesNoRunCouldMeanAreInvalid() {
        XCTAssertThrowsError(try load("[optimizer]\nlr = -0.1"), "a negative learning rate") { error in
            let description = "\(error)"
            XCTAssertTrue(description.hasPrefix("config \(source): "), "names the file: \(description)")
            XCTAssertTrue(description.contains("lr"), "names lr: \(description)")
            XCTAssertTrue(description.contains("-0.1"), "gives the value: \(description)")
        }
        assertThrows(.inSource(source, .invalid(key: "tasks.count", problem: "must be > 0, got 0")),
                     "a section's validate() names its key") { try load("[tasks]\ncount = 0") }
        assertThrows(.inSource(source, .invalid(key: "method.mpl.remove",
                                                problem: "must be in 0...tokens (1: layer 1 holds only layer 0's prompts), got 2")),
                     "MPL cannot remove more than layer 0's prompts") { try load("[method.mpl]\nremove = 2") }
        assertThrows(.inSource(source, .invalid(key: "method.dcp.tokens", problem: "must be > 0, got 0")),
                     "DCP needs prompt tokens") { try load("[method.dcp]\ntokens = 0") }
        assertThrows(.inSource(source, .invalid(key: "method.dcp.depth", problem: "must be > 0, got 0")),
                     "DCP needs a prompted layer") { try load("[method.dcp]\ndepth = 0") }
    }

    func testDCPSectionReadsItsKeys() throws {
        let config = try load("""
            [method]
            name = "dcp"
            [method.dcp]
            tokens = 4
            depth = 3
            shared_attention = true
            """)
        XCTAssertEqual(config.method.name, .dcp, "method.name")
        XCTAssertEqual([config.method.dcp.tokens, config.method.dcp.depth], [4, 3], "tokens and depth")
        XCTAssertTrue(config.method.dcp.sharedAttention, "shared_attention")
        let defaults = try load("")
        XCTAssertEqual([defaults.method.dcp.tokens, defaults.method.dcp.depth], [16, 9], "the released script's N_CTX and depth")
        XCTAssertFalse(defaults.method.dcp.sharedAttention, "one CMPA module per layer by default")
        assertThrows(.inSource(source, .unknownKey(key: "method.dcp.shared", known: ["depth", "shared_attention", "tokens"])),
                     "a misspelt [method.dcp] key") { try load("[method.dcp]\nshared = true") }
    }

    func testEveryErrorDescriptionStartsWithItsSource() {
        let cases: [(toml: String, overrides: [String], source: String)] = [
            ("[optimiser]", [], source),
            ("seed = \"1\"", [], source),
            ("[method]\nname = \"vtp\"", [], source),
            ("[optimizer]\nlr = -0.1", [], source),
            ("[tasks]\ncount = 0", [], source),
            ("seed = ", [], source),
            ("", ["seed"], "--set seed"),
            ("", ["seed=x"], "--set seed=x"),
            ("", ["sed=1"], "--set sed=1"),
        ]
        for (toml, overrides, expectedSource) in cases {
            XCTAssertThrowsError(try load(toml, overrides), "\(toml) \(overrides) is refused") { error in
                XCTAssertTrue("\(error)".hasPrefix("config \(expectedSource): "),
                              "\(toml) \(overrides): \"\(error)\" starts with its source")
            }
        }
    }

    // MARK: --set overrides

    func testOverridesApplyInOrderAfterTheFile() throws {
        let config = try load("seed = 1\n[optimizer]\nlr = 0.5", ["optimizer.lr=0.1", "seed=3", "optimizer.lr=0.2"])
        XCTAssertEqual(config.optimizer.lr, 0.2, "the last --set of a key wins over earlier ones and the file")
        XCTAssertEqual(config.seed, 3, "--set wins over the file")
    }

    func testOverrideValuesAreTOMLValues() throws {
        let config = try load("", [
            "optimizer.lr=1e-3", "train.max_grad_norm=0.01", "loss.template=\"itap of a {class}\"",
            "method.vpt.layers=[1, 2]", "optimizer.nesterov=true", "tasks.epochs=3", "schedule.warmup_epochs=1",
        ])
        XCTAssertEqual(config.optimizer.lr, 1e-3, "1e-3 is a float")
        XCTAssertEqual(config.train.maxGradNorm, 0.01, "0.01 is a float")
        XCTAssertEqual(config.loss.template, "itap of a {class}", "a quoted string, spaces and all")
        XCTAssertEqual(config.method.vpt.layers, [1, 2], "[1, 2] is an array")
        XCTAssertTrue(config.optimizer.nesterov, "true is a boolean")
        XCTAssertEqual(config.schedule.warmupEpochs, 1, "an integer for a float key")
    }

    func testOverrideBareWordIsAString() throws {
        let config = try load("", ["method.name=vpt-seq", "optimizer.kind=adamw", "loss.kind=linear-head",
                                   "model.path=/models/clip-vit-b16"])
        XCTAssertEqual(config.method.name, .vptSeq, "vpt-seq, unquoted")
        XCTAssertEqual(config.optimizer.kind, .adamw, "adamw, unquoted")
        XCTAssertEqual(config.loss.kind, .linearHead, "linear-head, unquoted")
        XCTAssertEqual(config.model.path, "/models/clip-vit-b16", "a path, unquoted")
    }

    func testOverrideErrorsNameTheArgument() {
        let usage = "must be key=value, e.g. optimizer.lr=0.001"
        assertThrows(.inSource("--set optimizer.lr", .invalid(key: nil, problem: usage)), "no =") {
            try load("", ["optimizer.lr"])
        }
        assertThrows(.inSource("--set =0.1", .invalid(key: nil, problem: "has an empty key; \(usage)")), "no key") {
            try load("", ["=0.1"])
        }
        assertThrows(.inSource("--set optimizer..lr=1", .invalid(key: nil, problem: "has an empty key; \(usage)")),
                     "an empty part of the key") { try load("", ["optimizer..lr=1"]) }
        assertThrows(.inSource("--set optimizer.lrr=0.1", .unknownKey(key: "optimizer.lrr", known: optimizerKeys)),
                     "an unknown key") { try load("", ["optimizer.lrr=0.1"]) }
        assertThrows(.inSource("--set seed=abc", .wrongType(key: "seed", expected: "an integer", found: "a string \"abc\"")),
                     "a wrong type") { try load("", ["seed=abc"]) }
        assertThrows(.inSource("--set optimizer.lr.x=1",
                               .wrongType(key: "optimizer.lr", expected: "a float", found: "a table { x = 1 }")),
                     "a key under a value") { try load("", ["optimizer.lr.x=1"]) }
    }

    // MARK: Syntax and files

    func testSyntaxErrorGivesLineAndColumn() {
        XCTAssertThrowsError(try load("seed = 1\n[optimizer]\nlr = = 2"), "lr = = 2 is not TOML") { error in
            guard case let .inSource(errorSource, .syntax(message))? = error as? ConfigError else {
                return XCTFail("a syntax error inside the source, got \(error)")
            }
            XCTAssertEqual(errorSource, source, "the source is the file")
            XCTAssertTrue(message.contains("line 3"), "the line of lr = = 2: \(message)")
            XCTAssertTrue(message.contains("column"), "a column: \(message)")
        }
    }

    func testUnreadableFileNamesThePath() {
        let path = "/nonexistent/configs/run.toml"
        XCTAssertThrowsError(try ConfigLoader.load(file: URL(fileURLWithPath: path)), "no such file") { error in
            guard case let .inSource(errorSource, .invalid(nil, problem))? = error as? ConfigError else {
                return XCTFail("an invalid file inside the source, got \(error)")
            }
            XCTAssertEqual(errorSource, path, "the source is the path")
            XCTAssertTrue(problem.hasPrefix("cannot be read: "), "says it cannot be read: \(problem)")
        }
    }

    func testLoadFileReadsTheFileThenTheOverrides() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ConfigLoaderTests-\(UUID()).toml")
        try "seed = 5\n[tasks]\ncount = 4\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let config = try ConfigLoader.load(file: url, overrides: ["tasks.count=6"])
        XCTAssertEqual(config.seed, 5, "seed from the file")
        XCTAssertEqual(config.tasks.count, 6, "tasks.count from --set over the file")
        XCTAssertThrowsError(try ConfigLoader.load(file: url, overrides: ["tasks.count=0"]), "count 0") { error in
            XCTAssertEqual(error as? ConfigError, .inSource(url.path, .invalid(key: "tasks.count", problem: "must be > 0, got 0")),
                           "a validation error names the file")
        }
    }

    // MARK: config.toml

    func testTOMLWritesEveryKey() throws {
        let written = try TOMLTable(string: ConfigLoader.toml(TrainingConfig()))
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainingConfig()))
        XCTAssertEqual(dottedKeys(written), dottedKeys(json), "every key of TrainingConfig, as JSONEncoder names them")
        XCTAssertTrue(dottedKeys(written).contains("method.vpt.layers"), "an empty array is written too")
    }

    func testTOMLRoundTripsAConfigExactly() throws {
        var config = TrainingConfig()
        config.seed = 11
        config.model.path = "/models/clip"
        config.model.random.imageSize = 64
        config.data.samples = 960
        config.tasks.count = 4
        config.tasks.epochs = 5
        config.method.vpt.tokens = 10
        config.method.vpt.layers = [0, 2, 5]
        config.method.vpt.initialization = .uniformUnit
        config.loss.kind = .textClassifier
        config.loss.classes = .seen
        config.loss.template = "itap of a \"{class}\"\n"
        config.train.globalBatch = 64
        config.train.maxGradNorm = 1.5
        config.optimizer = OptimizerConfig(kind: .adamw, lr: 0.001, beta2: 0.98, eps: 1e-6, weightDecay: 0.05)
        config.schedule = LearningRateSchedule(kind: .step, warmupEpochs: 0.5, warmupStartFactor: 0.1, gamma: 0.3,
                                               milestones: [1.5, 3])
        XCTAssertNoThrow(try config.validate(), "the config is valid")
        let text = try ConfigLoader.toml(config)
        XCTAssertEqual(try load(text), config, "load(toml(config)) is config:\n\(text)")
        XCTAssertTrue(text.contains("lr = 0.001"), "a Float is written as its shortest decimal:\n\(text)")
    }

    func testFloatFieldsRoundTripExactly() throws {
        var random = SplitMix64(seed: 3)
        for trial in 0..<200 {
            var config = TrainingConfig()
            // Positive finite Floats of any exponent, normal or subnormal.
            func draw() -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: random.next()) % 0x7F80_0000) }
            config.optimizer.lr = draw()
            config.optimizer.eps = draw()
            config.optimizer.weightDecay = draw()
            config.schedule.minLR = draw()
            config.schedule.gamma = draw()
            config.schedule.warmupStartFactor = max(random.nextUnitFloat(), .leastNonzeroMagnitude)
            config.optimizer.beta2 = Double(random.nextUnitFloat()) / 3
            let text = try ConfigLoader.toml(config)
            XCTAssertEqual(try load(text), config, "trial \(trial): load(toml(config)) is config:\n\(text)")
        }
    }

    /// The dotted paths of the leaves of a TOML table or a JSON object (arrays are leaves).
    private func dottedKeys(_ value: Any, prefix: String = "") -> Set<String> {
        let children: [(String, Any)]
        if let table = (value as? TOMLValueConvertible)?.table {
            children = table.map { ($0, $1) }
        } else if let object = value as? [String: Any] {
            children = object.map { ($0, $1) }
        } else {
            return [prefix]
        }
        return children.reduce(into: Set<String>()) { keys, child in
            keys.formUnion(dottedKeys(child.1, prefix: prefix.isEmpty ? child.0 : "\(prefix).\(child.0)"))
        }
    }

    /// Every config shipped under configs/ loads and validates (pretrain-*.toml as a `PretrainConfig`), and names a
    /// method and dataset it means.
    func testEveryShippedConfigLoads() throws {
        let configs = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("configs")
        let files = try FileManager.default.subpathsOfDirectory(atPath: configs.path).filter { $0.hasSuffix(".toml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 20, "synthetic-vpt, synthetic-vpt-vitb16, synthetic-nsp2, 8 NSP2 settings "
                                    + "and 9 of LPI's COCO comparison: \(files)")
        for file in files {
            if file.hasPrefix("pretrain-") {  // `promptcl pretrain`'s configs (PretrainingTests checks them)
                _ = try ConfigLoader.load(PretrainConfig.self, file: configs.appendingPathComponent(file))
                continue
            }
            let config = try ConfigLoader.load(file: configs.appendingPathComponent(file))
            if file.hasPrefix("nsp2/") {
                XCTAssertEqual(file.hasPrefix("nsp2/vpt") ? MethodSection.Name.vptNSP2 : .clipNSP2, config.method.name, file)
                XCTAssertEqual(config.method.vpt.tokens, 4, "\(file): prompt length 4")
                XCTAssertEqual(config.method.nsp2.eta1, config.method.nsp2.eta2, "\(file): one eta for both projectors")
            }
            if file.hasPrefix("lpi/") {
                XCTAssertEqual(file, "lpi/\(config.method.name.rawValue)-coco.toml", "the file names its method")
                XCTAssertEqual(config.data.dataset, .coco, file)
                XCTAssertEqual(config.tasks.count, 12, "\(file): COCO's 12 supercategories")
                XCTAssertTrue(MethodSection.implemented.contains(config.method.name), "\(file): the method is built")
            }
            if let folder = ["l2p/", "s-prompts/", "maple/", "mpl/"].first(where: file.hasPrefix) {
                XCTAssertEqual(config.method.name.rawValue + "/", folder, "\(file): the folder names its method")
                XCTAssertTrue(file.dropFirst(folder.count).hasPrefix(config.method.name.rawValue + "-"),
                              "\(file): the file names its method")
                XCTAssertTrue(file.contains("-\(config.data.dataset.rawValue)"), "\(file): the file names its dataset")
                XCTAssertEqual(config.evaluation.kind, .classification, "\(file): the papers report accuracy")
                XCTAssertTrue(MethodSection.implemented.contains(config.method.name), "\(file): the method is built")
            }
            if file == "s-prompts/s-prompts-domainnet.toml" {
                XCTAssertEqual(config.tasks.split, .domainIncremental, "\(file): the paper's domain-incremental protocol")
                XCTAssertEqual(config.tasks.count, 6, "\(file): one task per DomainNet domain")
            }
        }
        for folder in ["l2p", "s-prompts", "maple", "mpl"] {
            XCTAssertTrue(files.contains { $0.hasPrefix(folder + "/") }, "configs/\(folder)/ holds its paper's setting")
        }
    }
}
