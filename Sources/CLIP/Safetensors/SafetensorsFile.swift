import Foundation

/// A safetensors file, memory-mapped, its header validated in full when opened (see `SafetensorsHeader`
/// for the layout and the checks). Tensors are read by name, converted to Float32 or Int64.
///
/// This is the format of Hugging Face's `model.safetensors` (e.g. a `CLIPModel`'s
/// `vision_model.encoder.layers.0.self_attn.q_proj.weight`, shape [768, 768]) and of our checkpoints.
public struct SafetensorsFile: Sendable {
    public let url: URL
    /// The header's `__metadata__` (string to string), empty when it has none.
    public let metadata: [String: String]

    /// The whole file, memory-mapped.
    private let contents: Data
    private let header: SafetensorsHeader

    /// Maps the file and validates its header; throws `SafetensorsError` naming the file and the problem.
    public init(contentsOf url: URL) throws {
        self.url = url
        do {
            contents = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafetensorsError(url, "cannot read the file: \(error.localizedDescription)")
        }
        header = try contents.withUnsafeBytes { try SafetensorsHeader(file: $0, url: url) }
        metadata = header.metadata
    }

    /// A file's bytes already in memory (a checkpoint rank 0 read and broadcast); `url` names it in errors.
    public init(bytes: Data, url: URL) throws {
        self.url = url
        contents = bytes
        header = try contents.withUnsafeBytes { try SafetensorsHeader(file: $0, url: url) }
        metadata = header.metadata
    }

    /// The tensors' names, sorted.
    public var tensorNames: [String] { header.tensors.keys.sorted() }

    /// The tensor's dtype and shape; nil when the file has no tensor of that name.
    public func info(_ name: String) -> TensorInfo? { header.tensors[name] }

    /// Converts tensor `name` (F32, F16, BF16 or F64) to Float32 into `destination`, whose count must equal
    /// the tensor's element count. Conversions are exact, except F64, which rounds to nearest.
    public func copyFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let tensor = try lookUp(name)
        guard destination.count == tensor.elementCount else {
            throw SafetensorsError(url, "tensor '\(name)' has shape \(tensor.shape): expected a destination of "
                                   + "\(tensor.elementCount) floats, found \(destination.count)")
        }
        let converted = bytes(of: tensor) { ElementConversion.convertFloats(tensor.dtype, from: $0, to: destination) }
        guard converted else {
            throw SafetensorsError(url, "tensor '\(name)' has dtype \(tensor.dtype.rawValue), which cannot be read "
                                   + "as floats (F32, F16, BF16 and F64 can)")
        }
    }

    /// Tensor `name` (F32, F16, BF16 or F64) as Float32, row-major.
    public func floats(_ name: String) throws -> [Float] {
        let count = try lookUp(name).elementCount
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try copyFloats(name, into: buffer)
            initialized = count
        }
    }

    /// Tensor `name` (I64 or I32) as Int64, row-major: token ids and labels in fixtures.
    public func int64s(_ name: String) throws -> [Int64] {
        let tensor = try lookUp(name)
        guard let values = bytes(of: tensor, { ElementConversion.int64s(tensor.dtype, from: $0, count: tensor.elementCount) }) else {
            throw SafetensorsError(url, "tensor '\(name)' has dtype \(tensor.dtype.rawValue), which cannot be read "
                                   + "as Int64 (I64 and I32 can)")
        }
        return values
    }

    /// Tensor `name` (F64, or F32 widened) as Double, row-major: statistics kept in double precision.
    public func doubles(_ name: String) throws -> [Double] {
        let tensor = try lookUp(name)
        guard let values = bytes(of: tensor, { ElementConversion.doubles(tensor.dtype, from: $0, count: tensor.elementCount) }) else {
            throw SafetensorsError(url, "tensor '\(name)' has dtype \(tensor.dtype.rawValue), which cannot be read "
                                   + "as Double (F64 and F32 can)")
        }
        return values
    }

    private func lookUp(_ name: String) throws -> TensorInfo {
        guard let tensor = header.tensors[name] else {
            let names = tensorNames
            let listed = names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", ..." : "")
            throw SafetensorsError(url, "no tensor named '\(name)' (the file has \(names.count): \(listed))")
        }
        return tensor
    }

    /// Calls `body` with the tensor's bytes in the mapped file.
    private func bytes<Result>(of tensor: TensorInfo, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        contents.withUnsafeBytes { file in
            let start = header.dataStart + tensor.byteRange.lowerBound
            return body(UnsafeRawBufferPointer(rebasing: file[start..<start + tensor.byteRange.count]))
        }
    }
}
