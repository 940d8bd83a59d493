import Foundation

extension CLIPModel {
    /// Loads a Hugging Face CLIP folder: `config.json` and `model.safetensors` (as `save_pretrained` writes).
    /// Shapes come from the config and every tensor's shape in the file must match them.
    public static func load(directory: URL) throws -> CLIPModel {
        let config = try CLIPConfig(contentsOf: directory.appendingPathComponent("config.json"))
        let file = try SafetensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
        return try load(config: config, from: file)
    }

    /// Copies every tensor of `ParameterLayout.clip(config)` from `file`, converting F16/BF16 to F32.
    /// Fails with one error that lists every missing tensor and every shape mismatch (expected against found).
    public static func load(config: CLIPConfig, from file: SafetensorsFile) throws -> CLIPModel {
        let layout = ParameterLayout.clip(config)
        var missing: [String] = []
        var mismatched: [String] = []
        for entry in layout.entries {
            guard let info = file.info(entry.name) else {
                missing.append(entry.name)
                continue
            }
            // A scalar may be stored as [] or [1].
            let sameShape = info.shape == entry.shape || (entry.shape.isEmpty && info.shape == [1])
            if !sameShape { mismatched.append("\(entry.name): expected \(entry.shape), found \(info.shape)") }
        }
        guard missing.isEmpty && mismatched.isEmpty else {
            throw CLIPWeightsError(file: file.url.path, missing: missing, mismatched: mismatched,
                                   found: file.tensorNames.count, config: config)
        }
        let buffer = ParameterBuffer(layout: layout)
        for entry in layout.entries {
            try file.copyFloats(entry.name, into: UnsafeMutableBufferPointer(start: buffer.storage + entry.offset,
                                                                           count: entry.count))
        }
        return CLIPModel(config: config, weights: buffer)
    }
}

/// The weights file does not hold the model its config describes.
public struct CLIPWeightsError: Error, CustomStringConvertible {
    public let file: String
    public let missing: [String]
    public let mismatched: [String]
    public let found: Int
    public let config: CLIPConfig

    public var description: String {
        var lines = ["\(file): the weights do not match the CLIP config (vision \(config.vision.encoder.layers)x\(config.vision.encoder.hiddenSize), text \(config.text.encoder.layers)x\(config.text.encoder.hiddenSize), projection \(config.projectionDim)); the file holds \(found) tensors"]
        if !missing.isEmpty {
            let shown = missing.prefix(20).joined(separator: ", ")
            lines.append("missing \(missing.count) tensor(s): \(shown)\(missing.count > 20 ? ", ..." : "")")
        }
        if !mismatched.isEmpty {
            lines.append("shape mismatches (expected from config.json, found in the file):")
            lines += mismatched.prefix(20).map { "  " + $0 }
            if mismatched.count > 20 { lines.append("  ... and \(mismatched.count - 20) more") }
        }
        return lines.joined(separator: "\n")
    }
}
