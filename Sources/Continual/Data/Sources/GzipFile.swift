import CZlib
import Foundation

/// A whole file read through zlib's gz* functions: gunzipped when it is gzip, as it is otherwise.
enum GzipFile {
    /// The file's (decompressed) bytes. Throws `PreparedDataError` naming `path` when it cannot be opened or
    /// its gzip stream is damaged or cut short.
    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw PreparedDataError(path, "missing") }
        guard let file = gzopen(path, "rb") else {
            throw PreparedDataError(path, "cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { gzclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            var code: Int32 = 0
            var message = String(cString: gzerror(file, &code))
            if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
            guard n >= 0, code == Z_OK || code == Z_STREAM_END else {
                throw PreparedDataError(path, "gzip stream damaged after \(bytes.count) bytes: \(message)")
            }
            if n == 0 { return bytes }
            bytes += chunk[0..<Int(n)]
        }
    }
}
