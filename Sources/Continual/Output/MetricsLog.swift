import Foundation

/// `metrics.jsonl`: one compact JSON object per line, `"event"` naming its kind ("run", "task_start",
/// "step", "task_end", "end"), keys sorted, each line flushed as it is written so a crash loses nothing
/// already reported.
final class MetricsLog {
    let url: URL
    private let handle: FileHandle
    private let encoder: JSONEncoder

    /// Creates the file, or with `appending` opens it at its end (creating it when missing): a resumed run
    /// adds to its earlier lines and never rewrites them.
    init(url: URL, appending: Bool = false) throws {
        self.url = url
        let exists = appending && FileManager.default.fileExists(atPath: url.path)
        guard exists || FileManager.default.createFile(atPath: url.path, contents: nil),
              let handle = FileHandle(forUpdatingAtPath: url.path) else {
            throw TrainingError("\(url.path): cannot create the metrics file")
        }
        do {
            // A line torn by a killed process is closed, so the next event starts on a line of its own.
            if try handle.seekToEnd() > 0 {
                try handle.seek(toOffset: try handle.offset() - 1)
                if try handle.read(upToCount: 1) != Data([UInt8(ascii: "\n")]) {
                    try handle.write(contentsOf: Data([UInt8(ascii: "\n")]))
                }
            }
        } catch {
            throw TrainingError("\(url.path): cannot open the metrics file for appending: \(error.localizedDescription)")
        }
        self.handle = handle
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    deinit { try? handle.close() }

    /// Appends `{"event": event, ...payload's keys}`.
    func write<Payload: Encodable>(_ event: String, _ payload: Payload) throws {
        var line = try encoder.encode(Event(event: event, payload: payload))
        line.append(UInt8(ascii: "\n"))
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw TrainingError("\(url.path): cannot append a metrics line: \(error.localizedDescription)")
        }
    }

    private struct Event<P: Encodable>: Encodable {
        let event: String
        let payload: P

        enum CodingKeys: String, CodingKey { case event }

        func encode(to encoder: Encoder) throws {
            try payload.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(event, forKey: .event)
        }
    }
}
