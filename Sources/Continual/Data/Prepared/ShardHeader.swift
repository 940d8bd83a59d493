/// The 64 bytes that open every shard file, little-endian, so that a file of another kind, size or format is
/// caught before its payload is read:
/// ```
/// offset  bytes  field
///  0      8      magic "PCLSHARD"
///  8      4      version (PreparedFormat.shardVersion)
/// 12      4      kind: 1 images, 2 labels, 3 captions (ShardKind)
/// 16      8      count: samples in the shard
/// 24      8 x 3  shape: images (3, S, S); labels (0, 0, 0); captions (captions in all, UTF-8 text bytes, 0)
/// 48      4      CRC-32 of the payload (every byte after the header)
/// 52      12     zero
/// ```
/// The payload that follows has exactly `payloadBytes` bytes (`PreparedFormat` gives each kind's layout).
public struct ShardHeader: Equatable, Sendable {
    public static let size = 64
    static let magic = Array("PCLSHARD".utf8)

    public var kind: ShardKind
    public var count: Int
    public var shape: [Int]
    public var checksum: UInt32

    public init(kind: ShardKind, count: Int, shape: [Int], checksum: UInt32 = 0) {
        precondition(shape.count == 3, "a shard header holds 3 shape fields, not \(shape.count)")
        self.kind = kind
        self.count = count
        self.shape = shape
        self.checksum = checksum
    }

    /// Bytes of the payload a header of this kind, count and shape announces.
    public var payloadBytes: Int { checkedPayloadBytes! }

    /// `payloadBytes`, nil when it overflows an Int (a damaged header).
    private var checkedPayloadBytes: Int? {
        func product(_ factors: [Int]) -> Int? {
            var result = 1
            for factor in factors {
                let (value, overflow) = result.multipliedReportingOverflow(by: factor)
                if overflow { return nil }
                result = value
            }
            return result
        }
        switch kind {
        case .images: return product([count] + shape)
        case .labels: return product([count, 4])
        case .captions:
            guard let index = product([count + shape[0] + 2, 8]) else { return nil }
            let (total, overflow) = index.addingReportingOverflow(shape[1])
            return overflow ? nil : total
        }
    }

    /// The 64 header bytes.
    public var bytes: [UInt8] {
        var bytes = Self.magic
        bytes += littleEndian(UInt32(PreparedFormat.shardVersion))
        bytes += littleEndian(kind.code)
        bytes += littleEndian(UInt64(count))
        for dimension in shape { bytes += littleEndian(UInt64(dimension)) }
        bytes += littleEndian(checksum)
        bytes += [UInt8](repeating: 0, count: Self.size - bytes.count)
        return bytes
    }

    /// Reads the header at the start of `bytes` (the file `name`); throws naming the file when it is shorter
    /// than a header, has another magic, version or kind code, or its reserved bytes are not zero.
    public init(_ bytes: UnsafeRawBufferPointer, file name: String) throws {
        guard bytes.count >= Self.size else {
            throw PreparedDataError(name, "is \(bytes.count) bytes, shorter than the \(Self.size)-byte shard header")
        }
        guard Array(bytes[0..<8]) == Self.magic else {
            throw PreparedDataError(name, "is not a promptcl shard: its first 8 bytes are not \"PCLSHARD\"")
        }
        func field<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let version = field(8, UInt32.self)
        guard version == PreparedFormat.shardVersion else {
            throw PreparedDataError(name, "has shard format version \(version); this promptcl reads version "
                                    + "\(PreparedFormat.shardVersion): prepare the dataset again")
        }
        let code = field(12, UInt32.self)
        guard let kind = ShardKind(code: code) else {
            throw PreparedDataError(name, "has an unknown shard kind \(code) in its header")
        }
        guard bytes[52..<64].allSatisfy({ $0 == 0 }) else {
            throw PreparedDataError(name, "has non-zero reserved header bytes 52..<64: the header is damaged")
        }
        let values = [16, 24, 32, 40].map { field($0, UInt64.self) }
        let limit = UInt64(1) << 48
        guard values.allSatisfy({ $0 < limit }) else {
            throw PreparedDataError(name, "has a count or shape beyond any file size in its header: the header is damaged")
        }
        self.init(kind: kind, count: Int(values[0]), shape: values[1...].map { Int($0) },
                  checksum: field(48, UInt32.self))
        guard checkedPayloadBytes != nil else {
            throw PreparedDataError(name, "has a count and shape beyond any file size in its header: the header is damaged")
        }
    }

    private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
