import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Collects F32, F64 and I64 tensors and writes them as one safetensors file that the Python library reads.
///
/// The file: u64 little-endian header length N, then the header JSON
/// `{"__metadata__":{...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[b,e]},...}` padded with spaces
/// so that 8 + N is a multiple of 8 (as the Python library does), then the data. Tensors are laid out
/// by element size, largest first, then by name, so every tensor starts 8-byte aligned in the file.
///
/// `write(to:)` is atomic: it writes a temporary file in the destination's folder, fsyncs it, renames it
/// over the destination and fsyncs the folder. On any failure the destination is left as it was.
public struct SafetensorsWriter {
    private struct Entry {
        let name: String
        let dtype: TensorDType
        let shape: [Int]
        /// The elements, little-endian.
        let bytes: [UInt8]
    }

    private let metadata: [String: String]
    private var entries: [String: Entry] = [:]

    /// `metadata` becomes the header's `__metadata__` (omitted when empty).
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds an F32 tensor; `floats.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try add(name, .f32, shape: shape, count: floats.count,
                bytes: floats.map(\.bitPattern.littleEndian).withUnsafeBytes { Array($0) })
    }

    /// Adds an F64 tensor; `doubles.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], doubles: [Double]) throws {
        try add(name, .f64, shape: shape, count: doubles.count,
                bytes: doubles.map(\.bitPattern.littleEndian).withUnsafeBytes { Array($0) })
    }

    /// Adds an I64 tensor; `int64s.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) throws {
        try add(name, .i64, shape: shape, count: int64s.count,
                bytes: int64s.map(\.littleEndian).withUnsafeBytes { Array($0) })
    }

    private mutating func add(_ name: String, _ dtype: TensorDType, shape: [Int], count: Int, bytes: [UInt8]) throws {
        guard !name.isEmpty, name != "__metadata__" else {
            throw SafetensorsError(nil, "tensor name \"\(name)\" is not allowed")
        }
        guard entries[name] == nil else {
            throw SafetensorsError(nil, "tensor '\(name)' was already added")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw SafetensorsError(nil, "tensor '\(name)': negative dimension in shape \(shape)")
        }
        let elementCount = shape.reduce(1, *)
        guard elementCount == count else {
            throw SafetensorsError(nil, "tensor '\(name)': shape \(shape) holds \(elementCount) elements, "
                                   + "but \(count) values were given")
        }
        entries[name] = Entry(name: name, dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Writes the file atomically (see the type's documentation); throws `SafetensorsError` naming `url`.
    public func write(to url: URL) throws {
        let ordered = entries.values.sorted { a, b in
            a.dtype.byteCount != b.dtype.byteCount ? a.dtype.byteCount > b.dtype.byteCount : a.name < b.name
        }
        var header = headerBytes(ordered)
        let padding = (8 - (8 + header.count) % 8) % 8
        header += [UInt8](repeating: UInt8(ascii: " "), count: padding)

        let folder = url.deletingLastPathComponent()
        let unique = "\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(unique).tmp")
        func fail(_ step: String, _ code: Int32 = errno) -> SafetensorsError {
            SafetensorsError(url, "\(step) failed: \(String(cString: strerror(code)))")
        }

        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw fail("creating the temporary file \(temporary.path)") }
        do {
            defer { close(descriptor) }
            try writeAll(descriptor, withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }, fail)
            try writeAll(descriptor, header, fail)
            for entry in ordered { try writeAll(descriptor, entry.bytes, fail) }
            guard fsync(descriptor) == 0 else { throw fail("fsync of the temporary file") }
        } catch {
            unlink(temporary.path)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw fail("renaming the temporary file over the destination", code)
        }
        // Make the rename durable. A folder that cannot be opened for reading still got the file.
        let folderDescriptor = open(folder.path, O_RDONLY)
        if folderDescriptor >= 0 {
            defer { close(folderDescriptor) }
            guard fsync(folderDescriptor) == 0 else { throw fail("fsync of the folder \(folder.path)") }
        }
    }

    /// The header JSON, compact, keys in layout order; data offsets follow that order.
    private func headerBytes(_ ordered: [Entry]) -> [UInt8] {
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for entry in ordered {
            let end = offset + entry.bytes.count
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                          + "\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        return Array("{\(fields.joined(separator: ","))}".utf8)
    }
}

/// Writes every byte of `bytes` to `descriptor`, retrying short writes and interrupted calls.
private func writeAll(_ descriptor: Int32, _ bytes: [UInt8], _ fail: (String, Int32) -> SafetensorsError) throws {
    try bytes.withUnsafeBytes { buffer in
        var written = 0
        while written < buffer.count {
            let result = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw fail("writing the temporary file", errno)
            }
            written += result
        }
    }
}

/// `string` as a JSON string literal: quotes, backslashes and control characters escaped.
private func jsonString(_ string: String) -> String {
    var escaped = "\""
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case "\r": escaped += "\\r"
        case "\t": escaped += "\\t"
        case _ where scalar.value < 0x20:
            escaped += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                + String(scalar.value, radix: 16)
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped + "\""
}
