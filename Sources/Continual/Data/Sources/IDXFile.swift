/// An IDX file of unsigned bytes (MNIST, Fashion-MNIST), as LeCun's page describes it, big-endian:
/// ```
/// 0x00 0x00 0x08 d        magic: unsigned-byte data with d dimensions
/// uint32 x d              the dimensions (count first)
/// uint8 x prod(dims)      the data, last dimension fastest
/// ```
struct IDXFile {
    let dimensions: [Int]
    let data: ArraySlice<UInt8>

    /// Parses `bytes` (the file `name`), which must have `rank` dimensions. Throws `PreparedDataError` naming
    /// the file for another magic or rank, and for data shorter or longer than the dimensions say.
    init(_ bytes: [UInt8], rank: Int, name: String) throws {
        guard bytes.count >= 4 else {
            throw PreparedDataError(name, "is \(bytes.count) bytes, shorter than an IDX magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08 else {
            let hex = bytes[0..<4].map { ($0 < 16 ? "0x0" : "0x") + String($0, radix: 16) }
            throw PreparedDataError(name, "is not an IDX file of unsigned bytes: magic \(hex.joined(separator: " ")), "
                                    + "expected 0x00 0x00 0x08 0x0\(rank)")
        }
        guard Int(bytes[3]) == rank else {
            throw PreparedDataError(name, "has \(bytes[3]) dimensions, expected \(rank)")
        }
        let headerBytes = 4 + 4 * rank
        guard bytes.count >= headerBytes else {
            throw PreparedDataError(name, "is \(bytes.count) bytes, shorter than its \(headerBytes)-byte IDX header")
        }
        dimensions = (0..<rank).map { d in
            bytes[(4 + 4 * d)..<(8 + 4 * d)].reduce(0) { $0 << 8 | Int($1) }
        }
        let expected = dimensions.reduce(1, *)
        let actual = bytes.count - headerBytes
        guard actual == expected else {
            throw PreparedDataError(name, "has \(actual) data bytes; its header says "
                                    + dimensions.map(String.init).joined(separator: " x ") + " = \(expected)"
                                    + (actual < expected ? ": truncated" : ""))
        }
        data = bytes[headerBytes...]
    }
}
