import ArgumentParser
import CLIP
import Continual
import Foundation

/// `promptcl inspect --config FILE [--set key=value ...] [--json]`: for the config's model and task count,
/// every method's trainable parameters (all tasks, and one task's), as a percent of the frozen backbone, and
/// the forward GFLOPs of one image-caption pair with the method's prompt tokens (`MethodFootprint`,
/// `PairForwardFlops`); LPI's Table 4 for our methods. Loads no weights and trains nothing.
///
/// Every method of `MethodSection.Name` gets a row with the config's `[method.*]` settings; the config's own
/// `method.name` is marked. Exit status: 0 printed; 2 the config is refused (the same one-line errors as
/// `promptcl train`, naming the file and key, including a setting of the config's method that does not fit
/// the model).
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Count every method's trainable parameters and forward GFLOPs on the config's model.",
        discussion: """
        One row per method with the config's [method.*] settings (* marks method.name): trainable parameters over \
        all tasks.count tasks and during one task, each as a percent of the CLIP backbone's parameters, and the \
        forward GFLOPs of ONE image-caption pair through both towers with the method's prompt tokens (GEMMs: \
        linear layers, attention's QK^T and AV, the patch embedding; 2 FLOPs per multiply-add, twice fvcore's \
        "FLOPs"; L2P's frozen query pass included); the GFLOPs of LPI's Table 4 look like whole-batch \
        figures. No weights are loaded. Example: promptcl inspect --config configs/inspect-vitb16.toml --set method.vpt.tokens=8
        """)

    @Option(help: "Run config (TOML); see configs/.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. tasks.count=10 (repeatable).",
                                                          valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "Print one JSON object per method instead of the table.")
    var json = false

    func run() throws {
        let (loaded, model, rows): (TrainingConfig, CLIPConfig, [MethodFootprint])
        do {
            (loaded, model, rows) = try measure()
        } catch {
            fputs("promptcl inspect: \(error)\n", stderr)
            Foundation.exit(2)
        }
        if json {
            for row in rows { print(try jsonLine(row)) }
        } else {
            printTable(rows, config: loaded, model: model)
        }
    }

    /// The config, its model's shapes and every method's row; errors as `promptcl train` words them.
    private func measure() throws -> (TrainingConfig, CLIPConfig, [MethodFootprint]) {
        let loaded = try ConfigLoader.load(file: URL(fileURLWithPath: config), overrides: overrides)
        let model: CLIPConfig
        do {
            model = try loaded.model.clipConfig()
        } catch where !loaded.model.path.isEmpty {
            throw ConfigError.inSource(config, .invalid(key: "model.path", problem: "cannot be read: \(error)"))
        }
        let rows = try MethodSection.Name.allCases.map { name in
            var section = loaded.method
            section.name = name
            do {
                return try MethodFootprint(section, model: model, taskCount: loaded.tasks.count,
                                           selected: name == loaded.method.name)
            } catch let error as ConfigError {
                throw ConfigError.inSource(config, error)
            }
        }
        return (loaded, model, rows)
    }

    private func printTable(_ rows: [MethodFootprint], config loaded: TrainingConfig, model: CLIPConfig) {
        let v = model.vision, t = model.text
        print("promptcl inspect: \(config), \(loaded.tasks.count) tasks, method \(loaded.method.name.rawValue) (*)")
        print("model: vision \(v.encoder.layers) x \(v.encoder.hiddenSize) (patch \(v.patchSize), \(v.imageSize) px, "
              + "\(v.tokenCount) tokens), text \(t.encoder.layers) x \(t.encoder.hiddenSize) (context \(t.contextLength)), "
              + "projection \(model.projectionDim); backbone \(Self.grouped(rows[0].backboneParameters)) parameters")
        print("GFLOPs: forward of one image-caption pair, both towers (2 FLOPs per multiply-add)")
        print("")
        let width = rows.map(\.method.rawValue.count).max() ?? 0
        let header = ["parameters", "% backbone", "per task", "% per task", "GFLOPs"]
        print("  " + "method".padding(toLength: width, withPad: " ", startingAt: 0) + "  "
              + Self.columns(header))
        for row in rows {
            let name = (row.selected ? "* " : "  ") + row.method.rawValue.padding(toLength: width, withPad: " ", startingAt: 0)
            if let parameters = row.parameters, let perTask = row.parametersPerTask, let gflops = row.gflops,
               let percent = row.percentOfBackbone, let percentPerTask = row.percentPerTask {
                print(name + "  " + Self.columns([Self.count(parameters), String(format: "%.4f%%", percent),
                                                  Self.count(perTask), String(format: "%.4f%%", percentPerTask),
                                                  String(format: "%#.4g", gflops)]))
            } else if let problem = row.problem {
                print(name + "  does not fit this model: " + problem)
            } else {
                print(name + "  not implemented")
            }
        }
    }

    /// The cells right-aligned to the header's widths (at least 11 characters each).
    private static func columns(_ cells: [String]) -> String {
        cells.map { String(repeating: " ", count: max(0, 11 - $0.count)) + $0 }.joined(separator: "  ")
    }

    /// A parameter count: thousands separators, or millions with two decimals from 1e6 up ("5,760", "9.30M").
    static func count(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.2fM", Double(n) / 1e6) : grouped(n)
    }

    /// `n` with a comma every three digits.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        let groups = stride(from: digits.count, to: 0, by: -3).reversed().map { end -> Substring in
            let start = max(0, end - 3)
            return digits.dropFirst(start).prefix(end - start)
        }
        return (n < 0 ? "-" : "") + groups.joined(separator: ",")
    }
}
