import Foundation

/// Pieces already encoded (UTF-8 bytes -> ids), shared by all copies of a tokenizer and safe to use from
/// several threads. Like the cache of `tokenizers`' BPE it holds at most `capacity` pieces and then stops
/// adding, so arbitrary text cannot make it grow without bound. Keys are bytes, not `String`s, so that
/// canonically equivalent but different pieces stay apart.
final class BPECache: @unchecked Sendable {  // `entries` is only touched with `lock` held.
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The cached ids of `piece`, or `compute()`'s, which are then cached while there is room.
    func ids(for piece: [UInt8], compute: () -> [Int32]) -> [Int32] {
        if let ids = lock.withLock({ entries[piece] }) { return ids }
        let ids = compute()
        lock.withLock {
            if entries.count < capacity { entries[piece] = ids }
        }
        return ids
    }
}
