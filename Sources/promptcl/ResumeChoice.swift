import Continual
import Foundation

/// Which checkpoint `promptcl train --resume auto|PATH` continues from (rank 0, before anything is trained):
/// ```
/// auto   the newest checkpoint under OUT/checkpoints that verifies (older ones when it does not, each skipped
///        one named in a warning); none: the run starts from the beginning, provided OUT holds no config.toml
///        of a different run
/// PATH   that checkpoint directory, which must verify
/// then   the checkpoint's config against this run's (ConfigDifference): any key that matters differs -> refused,
///        naming the keys; checkpoints in OUT newer than the chosen one are set aside (renamed, kept)
/// ```
enum ResumeChoice {
    static func checkpoint(_ request: String, out: URL, config: TrainingConfig) throws -> Checkpoint? {
        let store = CheckpointStore(runDirectory: out)
        let warn = { (message: String) -> Void in _ = fputs("promptcl train: warning: \(message)\n", stderr) }
        let chosen: Checkpoint
        if request == "auto" {
            guard let newest = store.newestValid(warn: warn) else {
                try refuseAnotherRun(in: out, config: config)
                return nil
            }
            chosen = newest
        } else {
            chosen = try Checkpoint(verifying: URL(fileURLWithPath: request))
        }
        let source = chosen.directory.appendingPathComponent(Checkpoint.stateFile).path
        let saved = try ConfigLoader.load(toml: chosen.state.config, source: source)
        let difference = try ConfigDifference(saved: saved, current: config)
        guard difference.isEmpty else {
            throw TrainingError("checkpoint \(chosen.directory.path) was written under another config; these keys "
                                + "differ: \(difference.keys.map(\.description).joined(separator: "; ")). Resume with "
                                + "the config it was written with (its text is \"config\" in \(source)); only "
                                + "\(ConfigDifference.mayChange.joined(separator: ", ")) may change")
        }
        if chosen.directory.deletingLastPathComponent().standardizedFileURL == store.directory.standardizedFileURL {
            for name in try store.setAside(newerThan: chosen.directory) {
                warn("checkpoint \(name) is newer than the one resumed from: set aside as .set-aside-\(name)-*")
            }
        }
        return chosen
    }

    /// With no checkpoint to resume, OUT may still hold the start of a run that died before its first one: that
    /// is fine under the same config (the run starts again, appending to its metrics), refused under another.
    private static func refuseAnotherRun(in out: URL, config: TrainingConfig) throws {
        let file = out.appendingPathComponent("config.toml")
        guard FileManager.default.fileExists(atPath: file.path) else { return }
        let difference = try ConfigDifference(saved: try ConfigLoader.load(file: file), current: config)
        guard difference.isEmpty else {
            throw TrainingError("\(out.path) holds no checkpoint but the start of a run under another config "
                                + "(\(file.path)); these keys differ: "
                                + "\(difference.keys.map(\.description).joined(separator: "; ")): choose another --out")
        }
    }
}
