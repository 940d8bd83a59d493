import Foundation

/// The process's resident memory, from Linux's `/proc/self/status`:
/// ```
/// VmRSS   resident now
/// VmHWM   the peak resident since the process started, or since the last resetPeak()
/// resetPeak(): writes "5" to /proc/self/clear_refs, which sets VmHWM to VmRSS (Linux 4.0 and later)
/// ```
/// The peak is a process-wide maximum: a measurement resets it first, so the figure is that of the measurement
/// (on top of what the process already holds: its code, libraries, the model's weights).
enum ResidentMemory {
    static let statusPath = "/proc/self/status"
    static let clearRefsPath = "/proc/self/clear_refs"

    /// Sets the peak to the memory resident now.
    static func resetPeak() throws {
        guard let file = fopen(clearRefsPath, "w") else {
            throw ResidentMemoryError(path: clearRefsPath, problem: "cannot be opened for writing (\(String(cString: strerror(errno)))); "
                                      + "the peak resident memory can only be reset on Linux")
        }
        defer { fclose(file) }
        guard fputs("5", file) >= 0, fflush(file) == 0 else {
            throw ResidentMemoryError(path: clearRefsPath, problem: "writing \"5\" failed (\(String(cString: strerror(errno))))")
        }
    }

    /// VmHWM in bytes.
    static func peakBytes() throws -> Int { try field("VmHWM") }

    /// VmRSS in bytes.
    static func currentBytes() throws -> Int { try field("VmRSS") }

    /// A field of `/proc/self/status`, in bytes.
    private static func field(_ name: String) throws -> Int {
        guard let status = try? String(contentsOfFile: statusPath, encoding: .utf8) else {
            throw ResidentMemoryError(path: statusPath, problem: "cannot be read; resident memory is measured on Linux only")
        }
        guard let kibibytes = kibibytes(name, status: status) else {
            throw ResidentMemoryError(path: statusPath, problem: "has no line \"\(name): <n> kB\"")
        }
        return kibibytes * 1024
    }

    /// The value of a line `name:   <n> kB` of a `/proc/<pid>/status` text, in KiB; nil when there is none.
    static func kibibytes(_ name: String, status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let words = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, words[1] == "kB", let value = Int(words[0]) else { return nil }
            return value
        }
        return nil
    }
}
