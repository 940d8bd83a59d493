import Foundation

/// A complete checkpoint read and verified: its state and the bytes of each file it lists.
///
/// Verification, in order (`Checkpoint(verifying:)`), each failure naming the directory and what is wrong:
/// ```
/// COMPLETE exists                         written last: its absence means the write did not finish
/// state.json's CRC-32 == COMPLETE's       a state.json changed or torn after the marker
/// state.json decodes, format and version  promptcl-checkpoint, version 1
/// every file in state.files: size, CRC-32 a truncated or corrupted tensors file
/// ```
public struct Checkpoint: Sendable {
    public static let stateFile = "state.json"
    public static let markerFile = "COMPLETE"

    public let directory: URL
    public let state: CheckpointState
    /// Each file's bytes by name (the files `state.files` lists).
    public let files: [String: Data]

    public init(directory: URL, state: CheckpointState, files: [String: Data]) {
        self.directory = directory
        self.state = state
        self.files = files
    }

    /// Reads and verifies the checkpoint in `directory` (see the type's checks).
    public init(verifying directory: URL) throws {
        func problem(_ text: String) -> CheckpointError { CheckpointError("checkpoint \(directory.path): \(text)") }
        let markerURL = directory.appendingPathComponent(Self.markerFile)
        guard let marker = try? String(contentsOf: markerURL, encoding: .utf8) else {
            throw problem("no \(Self.markerFile) marker: the checkpoint was not finished (the job stopped while "
                          + "writing it)")
        }
        let stateURL = directory.appendingPathComponent(Self.stateFile)
        guard let stateBytes = try? Data(contentsOf: stateURL) else { throw problem("\(Self.stateFile) cannot be read") }
        let expected = Self.markerLine(stateBytes)
        guard marker == expected else {
            throw problem("\(Self.stateFile) does not match its \(Self.markerFile) marker (marker: "
                          + "\(marker.trimmingCharacters(in: .whitespacesAndNewlines)); file: "
                          + "\(expected.trimmingCharacters(in: .whitespacesAndNewlines))): it was changed or damaged")
        }
        let state: CheckpointState
        do {
            state = try JSONDecoder().decode(CheckpointState.self, from: stateBytes)
        } catch {
            throw problem("\(Self.stateFile) is not a checkpoint state: \(error)")
        }
        guard state.format == CheckpointState.formatName, state.version == CheckpointState.currentVersion else {
            throw problem("\(Self.stateFile) is format \(state.format) version \(state.version); this promptcl reads "
                          + "\(CheckpointState.formatName) version \(CheckpointState.currentVersion)")
        }
        var files: [String: Data] = [:]
        for (name, checksum) in state.files.sorted(by: { $0.key < $1.key }) {
            guard let bytes = try? Data(contentsOf: directory.appendingPathComponent(name)) else {
                throw problem("\(name) is missing or cannot be read")
            }
            guard bytes.count == checksum.bytes else {
                throw problem("\(name) has \(bytes.count) bytes, \(Self.stateFile) says \(checksum.bytes): truncated "
                              + "or replaced")
            }
            let crc = Self.crc32(bytes)
            guard crc == checksum.crc32 else {
                throw problem("\(name) has CRC-32 \(crc), \(Self.stateFile) says \(checksum.crc32): corrupted")
            }
            files[name] = bytes
        }
        self.init(directory: directory, state: state, files: files)
    }

    /// The file's bytes; throws naming the checkpoint when the state does not list it.
    public func bytes(of name: String) throws -> Data {
        guard let bytes = files[name] else {
            throw CheckpointError("checkpoint \(directory.path): no \(name) (the run's state needs it)")
        }
        return bytes
    }

    /// The text of the COMPLETE marker for a state.json of `bytes`.
    static func markerLine(_ bytes: Data) -> String { "\(stateFile) crc32 \(crc32(bytes))\n" }

    static func crc32(_ bytes: Data) -> String { bytes.withUnsafeBytes { CRC32.hex(CRC32.checksum($0)) } }
}
