import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes one shard file: a placeholder header, the payload (appended in pieces, CRC-32 as it goes), then
/// the real header, all under `NAME.partial`; `finish` syncs it to disk and renames it to NAME, so a file
/// under its final name is always complete.
final class ShardFileWriter {
    let path: String
    private let partialPath: String
    private var descriptor: Int32
    private var crc = CRC32()
    private var payloadBytes = 0

    /// Creates (or truncates) `path` + ".partial". Throws naming it.
    init(path: String) throws {
        self.path = path
        partialPath = path + PreparedFormat.partialSuffix
        descriptor = Glibc.open(partialPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw PreparedDataError(partialPath, "cannot be created: \(String(cString: strerror(errno)))")
        }
        try write([UInt8](repeating: 0, count: ShardHeader.size))
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends payload bytes.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        crc.update(bytes)
        payloadBytes += bytes.count
        try write(bytes)
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Writes `header` (with the payload's checksum) over the placeholder, syncs, closes and renames the file
    /// to its final name. Returns the header written.
    @discardableResult
    func finish(_ header: ShardHeader) throws -> ShardHeader {
        var header = header
        header.checksum = crc.value
        precondition(header.payloadBytes == payloadBytes,
                     "\(path): header announces \(header.payloadBytes) payload bytes, \(payloadBytes) were written")
        let bytes = header.bytes
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == bytes.count else { throw failure("cannot be written") }
        guard fsync(descriptor) == 0 else { throw failure("cannot be synced to disk") }
        let result = close(descriptor)
        descriptor = -1
        guard result == 0 else { throw failure("cannot be closed") }
        guard rename(partialPath, path) == 0 else {
            throw PreparedDataError(partialPath, "cannot be renamed to \(path): \(String(cString: strerror(errno)))")
        }
        return header
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw failure("cannot be written") }
            offset += written
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    private func failure(_ what: String) -> PreparedDataError {
        PreparedDataError(partialPath, "\(what): \(String(cString: strerror(errno)))")
    }
}
