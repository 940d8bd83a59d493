import Foundation

/// A run's checkpoints, `OUT/checkpoints/` (rank 0 writes, DESIGN.md "Checkpoints"):
/// ```
/// step-00000042/                    a checkpoint after 42 optimiser steps (periodic or on signal)
/// step-00000060-task-001-end/       the checkpoint after task 1's end-of-task work (keys, evaluation, null space)
///     trainable.safetensors  optimizer.safetensors  null_space.safetensors  task_keys.safetensors
///     state.json             COMPLETE
/// latest -> step-00000060-task-001-end
/// ```
/// Names sort in the order the run wrote them. A write goes to `.partial-NAME/`: the tensor files (each
/// fsynced), then state.json with every file's size and CRC-32, then COMPLETE (the CRC-32 of state.json), then
/// an fsync of the directory, a rename to NAME and an fsync of `checkpoints/`; `latest` is switched by renaming a
/// new symbolic link over it. A write that fails anywhere (a full disk) removes its partial directory and
/// leaves every earlier checkpoint as it was. After a write, periodic and on-signal checkpoints beyond the
/// newest `keepLast` are removed; end-of-task checkpoints are all kept.
public struct CheckpointStore: Sendable {
    public static let folderName = "checkpoints"
    public static let latestLink = "latest"

    /// `OUT/checkpoints`.
    public let directory: URL

    public init(runDirectory: URL) {
        directory = runDirectory.appendingPathComponent(Self.folderName)
    }

    /// The name of the checkpoint after `globalStep` steps; `endOfTask`: the task whose end-of-task work it follows.
    public static func name(globalStep: Int, endOfTask task: Int?) -> String {
        let step = "step-" + String(format: "%08d", globalStep)
        guard let task else { return step }
        return step + "-task-" + String(format: "%03d", task) + "-end"
    }

    /// The checkpoint directories (finished or not, valid or not), newest first.
    public func checkpoints() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("step-") }.sorted(by: >).map { directory.appendingPathComponent($0) }
    }

    /// The newest checkpoint that verifies, nil when there is none; every newer one that does not verify is
    /// reported through `warn` (with what is wrong) and skipped.
    public func newestValid(warn: (String) -> Void) -> Checkpoint? {
        for url in checkpoints() {
            do {
                return try Checkpoint(verifying: url)
            } catch {
                warn("\(error); falling back to the previous checkpoint")
            }
        }
        return nil
    }

    /// Moves every checkpoint newer than `resumed` out of the way (renamed `.set-aside-NAME-<time>`, kept on
    /// disk), so that later resumes never pick one from the abandoned future; returns their names.
    public func setAside(newerThan resumed: URL) throws -> [String] {
        let stamp = Int(Date().timeIntervalSince1970)
        var moved: [String] = []
        for url in checkpoints() where url.lastPathComponent > resumed.lastPathComponent {
            try DurableFiles.rename(url, to: directory.appendingPathComponent(".set-aside-\(url.lastPathComponent)-\(stamp)"))
            moved.append(url.lastPathComponent)
        }
        if !moved.isEmpty { try DurableFiles.syncDirectory(directory) }
        return moved
    }

    /// Writes checkpoint `name`: `fill` writes the tensor files into the directory it is given; then state.json
    /// (with `state` and the files' checksums), COMPLETE, the rename, `latest` and the pruning (see the type).
    /// Throws a `CheckpointError` naming the checkpoint and the failed step; earlier checkpoints stay intact.
    @discardableResult
    public func write(name: String, state: CheckpointState, keepLast: Int, fill: (URL) throws -> Void) throws -> URL {
        let files = FileManager.default
        let final = directory.appendingPathComponent(name)
        let partial = directory.appendingPathComponent(".partial-" + name)
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            removeStalePartials()
            try files.createDirectory(at: partial, withIntermediateDirectories: false)
            try fill(partial)
            var state = state
            state.files = [:]
            for file in try files.contentsOfDirectory(atPath: partial.path).sorted() {
                let bytes = try Data(contentsOf: partial.appendingPathComponent(file))
                state.files[file] = .init(bytes: bytes.count, crc32: Checkpoint.crc32(bytes))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let stateBytes = try encoder.encode(state)
            try DurableFiles.write(stateBytes, to: partial.appendingPathComponent(Checkpoint.stateFile))
            try DurableFiles.write(Data(Checkpoint.markerLine(stateBytes).utf8),
                                   to: partial.appendingPathComponent(Checkpoint.markerFile))
            try DurableFiles.syncDirectory(partial)
            try install(partial, as: final)
        } catch {
            try? files.removeItem(at: partial)
            throw CheckpointError("checkpoint \(final.path) not written (earlier checkpoints are intact): \(error)")
        }
        prune(keepLast: keepLast, keeping: final)
        return final
    }

    /// Renames the finished `partial` to `final` (replacing an earlier one of that name, written before a
    /// resume from an older checkpoint) and points `latest` at it.
    private func install(_ partial: URL, as final: URL) throws {
        let files = FileManager.default
        let replaced = directory.appendingPathComponent(".replaced-" + final.lastPathComponent)
        if files.fileExists(atPath: final.path) {
            try? files.removeItem(at: replaced)
            try DurableFiles.rename(final, to: replaced)
        }
        try DurableFiles.rename(partial, to: final)
        let link = directory.appendingPathComponent(".latest.tmp")
        unlink(link.path)
        guard symlink(final.lastPathComponent, link.path) == 0 else {
            throw DurableFiles.failure("creating the link \(link.path)")
        }
        try DurableFiles.rename(link, to: directory.appendingPathComponent(Self.latestLink))
        try DurableFiles.syncDirectory(directory)
        try? files.removeItem(at: replaced)
    }

    /// Removes periodic and on-signal checkpoints beyond the newest `keepLast` (never `kept`).
    private func prune(keepLast: Int, keeping kept: URL) {
        let periodic = checkpoints().filter { !$0.lastPathComponent.hasSuffix("-end") }
        for url in periodic.dropFirst(keepLast) where url != kept {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Partial directories left by a write that was killed (only rank 0 writes, one checkpoint at a time).
    private func removeStalePartials() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(".partial-") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}
