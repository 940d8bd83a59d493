import Foundation

/// Writes that survive a crash or power loss once they return: the data and then the directory entry are
/// forced to disk (fsync), so a completion marker written after them never outlives what it vouches for.
enum DurableFiles {
    /// Creates `url` (which must not exist) with `bytes`, then fsyncs it.
    static func write(_ bytes: Data, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw failure("creating \(url.path)") }
        defer { close(descriptor) }
        try bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = Foundation.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { throw failure("writing \(url.path)") }
                written += result
            }
        }
        guard fsync(descriptor) == 0 else { throw failure("fsync of \(url.path)") }
    }

    /// fsync of a directory: makes the entries created, renamed or removed in it durable.
    static func syncDirectory(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw failure("opening the directory \(url.path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("fsync of the directory \(url.path)") }
    }

    /// rename(2), which replaces `destination` atomically when it is a file or a symbolic link.
    static func rename(_ source: URL, to destination: URL) throws {
        guard Foundation.rename(source.path, destination.path) == 0 else {
            throw failure("renaming \(source.path) to \(destination.path)")
        }
    }

    static func failure(_ action: String, _ code: Int32 = errno) -> CheckpointError {
        CheckpointError("\(action) failed: \(String(cString: strerror(code)))")
    }
}
