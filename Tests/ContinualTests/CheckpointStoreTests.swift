import CLIP
import Foundation
import XCTest
@testable import Continual

/// The checkpoint directory on real files: what a write leaves, each kind of damage found and named, the
/// fallback to the previous checkpoint, pruning, and a write that runs out of disk (a 64 KiB tmpfs) leaving
/// the earlier checkpoint intact.
final class CheckpointStoreTests: XCTestCase {
    private var scratch: URL!
    private var store: CheckpointStore!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-checkpoints-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        store = CheckpointStore(runDirectory: scratch)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func state(step: Int, reason: CheckpointReason = .everySteps) -> CheckpointState {
        CheckpointState(reason: reason, config: "seed = 1\n", configCRC32: "00000000",
                        position: TrainingPosition(task: 0, epoch: 0, step: step, globalStep: step),
                        optimizer: nil, random: .init(seed: 1, samplerSeed: "2", note: "test"),
                        evaluations: ReportFixtures.classification(), ranks: 2, written: "now", files: [:])
    }

    /// Writes checkpoint `step-N` holding one tensor of `values`.
    @discardableResult
    private func write(step: Int, values: [Float] = [1, 2, 3, 4], reason: CheckpointReason = .everySteps,
                       task: Int? = nil, keepLast: Int = 5) throws -> URL {
        try store.write(name: CheckpointStore.name(globalStep: step, endOfTask: task), state: state(step: step, reason: reason),
                        keepLast: keepLast) { folder in
            var writer = SafetensorsWriter()
            try writer.add("values", shape: [values.count], floats: values)
            try writer.write(to: folder.appendingPathComponent("trainable.safetensors"))
        }
    }

    private func assertError(_ body: @autoclosure () throws -> Any, contains parts: [String], _ what: String,
                             line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, line: line) { error in
            for part in parts {
                XCTAssertTrue("\(error)".contains(part), "\(what): '\(error)' should mention '\(part)'", line: line)
            }
        }
    }

    func testAWriteLeavesAVerifiedCheckpointAndTheLatestLink() throws {
        let url = try write(step: 12, values: [0.5, -1, 3])
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
        XCTAssertEqual(names, ["COMPLETE", "state.json", "trainable.safetensors"], "the files of a checkpoint")
        let checkpoint = try Checkpoint(verifying: url)
        XCTAssertEqual(checkpoint.state.position.globalStep, 12, "the position read back")
        XCTAssertEqual(checkpoint.state.evaluations, ReportFixtures.classification(), "the evaluations read back")
        let tensor = try SafetensorsFile(bytes: checkpoint.files["trainable.safetensors"] ?? Data(),
                                         url: url.appendingPathComponent("trainable.safetensors"))
        XCTAssertEqual(try tensor.floats("values"), [0.5, -1, 3], "the tensor read back from the verified bytes")
        let latest = try FileManager.default.destinationOfSymbolicLink(atPath: store.directory.appendingPathComponent("latest").path)
        XCTAssertEqual(latest, "step-00000012", "latest names the newest checkpoint")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: store.directory.path).contains { $0.hasPrefix(".") },
                       "no partial directory or temporary link is left")
    }

    func testEveryKindOfDamageIsFoundAndNamed() throws {
        let files = FileManager.default
        // A flipped byte in the tensors file.
        let flipped = try write(step: 1)
        let tensors = flipped.appendingPathComponent("trainable.safetensors")
        var bytes = try Data(contentsOf: tensors)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: tensors)
        assertError(try Checkpoint(verifying: flipped), contains: ["trainable.safetensors", "corrupted", flipped.path],
                    "a flipped byte")
        // A truncated tensors file.
        let truncated = try write(step: 2)
        let file = try FileHandle(forWritingTo: truncated.appendingPathComponent("trainable.safetensors"))
        try file.truncate(atOffset: 20)
        try file.close()
        assertError(try Checkpoint(verifying: truncated), contains: ["trainable.safetensors", "truncated"], "a truncated file")
        // No marker: the write never finished.
        let unfinished = try write(step: 3)
        try files.removeItem(at: unfinished.appendingPathComponent("COMPLETE"))
        assertError(try Checkpoint(verifying: unfinished), contains: ["COMPLETE", "not finished"], "a missing marker")
        // state.json changed after the marker was written.
        let edited = try write(step: 4)
        let stateURL = edited.appendingPathComponent("state.json")
        let text = try String(contentsOf: stateURL, encoding: .utf8).replacingOccurrences(of: "\"step\" : 4", with: "\"step\" : 5")
        try Data(text.utf8).write(to: stateURL)
        assertError(try Checkpoint(verifying: edited), contains: ["state.json", "changed or damaged"], "an edited state")
        // A missing tensors file.
        let missing = try write(step: 5)
        try files.removeItem(at: missing.appendingPathComponent("trainable.safetensors"))
        assertError(try Checkpoint(verifying: missing), contains: ["trainable.safetensors", "missing"], "a missing file")
    }

    func testAutoResumeFallsBackPastDamagedCheckpointsWithAWarningEach() throws {
        try write(step: 10)
        let damaged = try write(step: 20)
        let unfinished = try write(step: 30)
        try FileManager.default.removeItem(at: unfinished.appendingPathComponent("COMPLETE"))
        let tensors = damaged.appendingPathComponent("trainable.safetensors")
        var bytes = try Data(contentsOf: tensors)
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: tensors)
        var warnings: [String] = []
        let chosen = store.newestValid { warnings.append($0) }
        XCTAssertEqual(chosen?.directory.lastPathComponent, "step-00000010", "the newest checkpoint that verifies")
        XCTAssertEqual(warnings.count, 2, "one warning per skipped checkpoint: \(warnings)")
        XCTAssertTrue(warnings.first?.contains("step-00000030") == true && warnings.first?.contains("not finished") == true,
                      "the unfinished one is named first: \(warnings)")
        XCTAssertTrue(warnings.last?.contains("step-00000020") == true && warnings.last?.contains("corrupted") == true,
                      "then the corrupted one: \(warnings)")
        let moved = try store.setAside(newerThan: chosen!.directory)
        XCTAssertEqual(moved, ["step-00000030", "step-00000020"], "the newer ones are set aside")
        XCTAssertEqual(store.checkpoints().map(\.lastPathComponent), ["step-00000010"], "and no longer candidates")
    }

    func testPruningKeepsTheNewestPeriodicOnesAndEveryEndOfTask() throws {
        try write(step: 5, keepLast: 2)
        try write(step: 8, reason: .endOfTask, task: 0, keepLast: 2)
        try write(step: 10, keepLast: 2)
        try write(step: 15, reason: .signal, keepLast: 2)
        try write(step: 16, reason: .endOfTask, task: 1, keepLast: 2)
        try write(step: 20, keepLast: 2)
        XCTAssertEqual(store.checkpoints().map(\.lastPathComponent),
                       ["step-00000020", "step-00000016-task-001-end", "step-00000015", "step-00000008-task-000-end"],
                       "two newest periodic or on-signal checkpoints, and both end-of-task ones")
    }

    func testAFullDiskLeavesThePreviousCheckpointIntact() throws {
        let small = scratch.appendingPathComponent("small-disk")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", small.path]
        try mount.run()
        mount.waitUntilExit()
        XCTAssertEqual(mount.terminationStatus, 0, "mounting a 64 KiB tmpfs at \(small.path) (the tests run as root)")
        guard mount.terminationStatus == 0 else { return }
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [small.path]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        store = CheckpointStore(runDirectory: small)
        let first = try write(step: 1, values: [Float](repeating: 1, count: 1000))
        assertError(try write(step: 2, values: [Float](repeating: 2, count: 40_000)),
                    contains: ["step-00000002", "No space left on device", "earlier checkpoints are intact"],
                    "a checkpoint larger than the disk")
        XCTAssertEqual(try Checkpoint(verifying: first).state.position.globalStep, 1, "the previous checkpoint verifies")
        XCTAssertEqual(store.checkpoints().map(\.lastPathComponent), ["step-00000001"], "no partial checkpoint is left")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: store.directory.appendingPathComponent("latest").path),
                       "step-00000001", "latest still names the previous checkpoint")
    }
}
