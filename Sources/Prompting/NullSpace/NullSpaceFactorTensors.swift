import CLIP

/// NSP2's merged factors as safetensors tensors (F64, readable by PyTorch's safetensors), the state a run
/// or checkpoint keeps so the next task can start on any number of ranks:
/// ```
/// null_space.layer{l}.channel.singular_values   (r1)       s of Omega1, descending
/// null_space.layer{l}.channel.right_vectors     (r1, D)    V^T
/// null_space.layer{l}.token.singular_values     (r2)       s of Omega2
/// null_space.layer{l}.token.right_vectors       (r2, L)
/// null_space.layer{l}.rows                      (1) I64    rows of Omega1 behind the factors (Omega2 has as many)
/// ```
public enum NullSpaceFactorTensors {
    /// Adds every layer's tensors to `writer`.
    public static func add(_ factors: [LayerNullSpaceFactors], to writer: inout SafetensorsWriter) throws {
        for layer in factors {
            let prefix = "null_space.layer\(layer.layer)."
            for (name, factor) in [("channel", layer.channel), ("token", layer.token)] {
                try writer.add(prefix + name + ".singular_values", shape: [factor.singularValues.count],
                               doubles: factor.singularValues)
                try writer.add(prefix + name + ".right_vectors", shape: [factor.singularValues.count, factor.columns],
                               doubles: factor.rightSingularVectors)
            }
            try writer.add(prefix + "rows", shape: [1], int64s: [Int64(layer.channel.rowsSeen)])
        }
    }

    /// The factors of `layers` (in that order) from `file`; throws naming the file and tensor when one is
    /// missing or its shape does not fit.
    public static func read(_ file: SafetensorsFile, layers: [Int]) throws -> [LayerNullSpaceFactors] {
        try layers.map { layer in
            let prefix = "null_space.layer\(layer)."
            let rows = try file.int64s(prefix + "rows")
            guard rows.count == 1, rows[0] >= 0 else {
                throw NullSpaceError("\(file.url.path): \(prefix)rows holds \(rows), not one row count")
            }
            func factor(_ name: String) throws -> NullSpaceFactor {
                let vectorsName = prefix + name + ".right_vectors"
                guard let shape = file.info(vectorsName)?.shape, shape.count == 2, shape[1] > 0 else {
                    throw NullSpaceError("\(file.url.path): \(vectorsName) is missing or not (rank, dimension)")
                }
                do {
                    return try NullSpaceFactor(columns: shape[1], singularValues: try file.doubles(prefix + name + ".singular_values"),
                                               rightSingularVectors: try file.doubles(vectorsName), rowsSeen: Int(rows[0]))
                } catch let error as NullSpaceError {
                    throw NullSpaceError("\(file.url.path): layer \(layer) \(name): \(error.description)")
                }
            }
            return LayerNullSpaceFactors(layer: layer, channel: try factor("channel"), token: try factor("token"))
        }
    }
}
