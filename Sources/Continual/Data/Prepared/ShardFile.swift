import Foundation

/// Checks of one shard file, shared by `PreparedDataset` (against the manifest) and `DatasetPreparer` (a
/// rerun keeps the shard files that pass).
enum ShardFile {
    /// What the manifest says of a file: its size and payload checksum.
    struct Listing {
        let bytes: Int
        let crc32: String
        /// "the images of train shard 3", for the messages.
        let role: String
    }

    /// Maps the shard file at `path` and checks it: a header of `kind` with `count` samples and `shape` (any
    /// when nil), exactly the announced payload after it, labels within `classes` (labels files), a
    /// well-formed caption index (captions files), with `verify` a payload whose CRC-32 is the header's, and
    /// with `listing` the manifest's size and checksum. Throws `PreparedDataError` naming `path`.
    static func open(path: String, kind: ShardKind, count: Int, shape: [Int]?, classes: Int, verify: Bool,
                     listing: Listing?) throws -> (file: MappedFile, header: ShardHeader) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PreparedDataError(path, "missing" + (listing.map { ": manifest.json lists it as \($0.role)" } ?? ""))
        }
        let mapped = try MappedFile(path: path)
        if let listing, mapped.bytes.count != listing.bytes {
            throw PreparedDataError(path, "is \(mapped.bytes.count) bytes, manifest.json says \(listing.bytes): "
                                    + (mapped.bytes.count < listing.bytes ? "truncated" : "not the file it lists"))
        }
        let header = try ShardHeader(mapped.bytes, file: path)
        guard header.kind == kind else {
            throw PreparedDataError(path, "holds \(header.kind.rawValue), expected \(kind.rawValue)")
        }
        guard header.count == count else {
            throw PreparedDataError(path, "holds \(header.count) samples, expected \(count)")
        }
        if let shape, header.shape != shape {
            throw PreparedDataError(path, "has shape \(header.shape) in its header, expected \(shape)")
        }
        guard ShardHeader.size + header.payloadBytes == mapped.bytes.count else {
            throw PreparedDataError(path, "is \(mapped.bytes.count) bytes; its header announces \(header.payloadBytes) "
                                    + "payload bytes after the \(ShardHeader.size)-byte header: truncated or damaged")
        }
        if let listing, CRC32.hex(header.checksum) != listing.crc32 {
            throw PreparedDataError(path, "has checksum \(CRC32.hex(header.checksum)) in its header, manifest.json "
                                    + "says \(listing.crc32): not the file it lists")
        }
        if verify {
            let actual = CRC32.checksum(UnsafeRawBufferPointer(rebasing: mapped.bytes[ShardHeader.size...]))
            guard actual == header.checksum else {
                throw PreparedDataError(path, "checksum mismatch: the payload's CRC-32 is \(CRC32.hex(actual)), "
                                        + "the header and manifest say \(CRC32.hex(header.checksum)): the file is damaged")
            }
        }
        switch kind {
        case .images:
            break
        case .labels:
            for row in 0..<count {
                let label = Int32(littleEndian: mapped.bytes.loadUnaligned(fromByteOffset: ShardHeader.size + 4 * row,
                                                                          as: Int32.self))
                guard (0..<Int32(classes)).contains(label) else {
                    throw PreparedDataError(path, "sample \(row) has label \(label), outside the \(classes) classes")
                }
            }
        case .captions:
            try ShardCaptions(file: mapped.bytes, count: count, captions: header.shape[0])
                .check(textBytes: header.shape[1], name: path)
        }
        return (mapped, header)
    }
}
