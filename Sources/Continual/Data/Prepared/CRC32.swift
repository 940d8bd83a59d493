import CZlib

/// CRC-32 (ISO-HDLC: zlib's, gzip's, PNG's, Python's `zlib.crc32`) through zlib's `crc32_z`, the checksum
/// of the prepared shards.
///
/// Why CRC-32 and not SHA-256: the shards' checksums guard against damage (a truncated copy, a flipped
/// bit, a file from another preparation), not against someone forging a shard, and every rank checks every
/// shard when it opens a prepared dataset. zlib is already linked for the gzipped IDX files, its CRC-32 runs
/// at several GB/s, it catches every burst of up to 32 bits and any other damage but for 1 in 2^32, and
/// `zlib.crc32` recomputes it in one line of Python.
/// ```
/// crc = CRC32();  crc.update(bytes_0);  crc.update(bytes_1)     ==  CRC32.checksum(bytes_0 + bytes_1)
/// ```
public struct CRC32: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    /// Folds `bytes` into the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = UInt32(crc32_z(UInt(value), base.assumingMemoryBound(to: UInt8.self), bytes.count))
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// `value` as the manifest writes it: 8 lower-case hex digits.
    public static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
