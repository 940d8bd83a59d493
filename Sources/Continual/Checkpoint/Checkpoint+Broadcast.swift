import Distributed
import Foundation

extension Checkpoint {
    /// Rank 0's checkpoint (or its absence) on every rank: its state and file bytes are broadcast, so the other
    /// ranks need no access to rank 0's disk and all of them restore the same bits. Collective.
    /// ```
    /// [present]                        Int64 (0 or 1)
    /// [directory path, state.json, file_0 name, file_0 bytes, ...]   each a broadcast byte array
    /// ```
    public static func shared(_ root: Checkpoint?, group: ProcessGroup) throws -> Checkpoint? {
        var present: [Int64] = [root == nil ? 0 : 1]
        group.broadcast(&present)
        guard present[0] == 1 else { return nil }
        func share(_ bytes: Data?) -> Data {
            var array = [UInt8](bytes ?? Data())
            group.broadcast(&array)
            return Data(array)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let path = share(root.map { Data($0.directory.path.utf8) })
        let stateBytes = share(try root.map { try encoder.encode($0.state) })
        let names = (root?.files.keys.sorted() ?? [])
        var count: [Int64] = [Int64(names.count)]
        group.broadcast(&count)
        var files: [String: Data] = [:]
        for i in 0..<Int(count[0]) {
            let name = String(decoding: share(root.map { _ in Data(names[i].utf8) }), as: UTF8.self)
            files[name] = share(root?.files[name])
        }
        let directory = URL(fileURLWithPath: String(decoding: path, as: UTF8.self))
        let state = try root?.state ?? JSONDecoder().decode(CheckpointState.self, from: stateBytes)
        return Checkpoint(directory: directory, state: state, files: files)
    }
}
