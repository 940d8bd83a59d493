/// One tensor's entry in a safetensors header: its name, element type, shape, and where its bytes lie.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: TensorDType
    /// Row-major dimensions; `[]` is a scalar (one element), a zero dimension an empty tensor.
    public let shape: [Int]
    /// The tensor's bytes, relative to the start of the data section (`data_offsets` in the header).
    let byteRange: Range<Int>

    /// The product of the dimensions (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}
