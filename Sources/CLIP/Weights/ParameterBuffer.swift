/// One flat Float32 buffer laid out by a `ParameterLayout`: the frozen weights of a model, or
/// (same layout) their gradients. Zero-filled at creation.
public final class ParameterBuffer: @unchecked Sendable {
    public let layout: ParameterLayout
    public let storage: UnsafeMutablePointer<Float>

    public init(layout: ParameterLayout) {
        self.layout = layout
        storage = .allocate(capacity: max(layout.count, 1))
        storage.initialize(repeating: 0, count: max(layout.count, 1))
    }

    deinit { storage.deallocate() }

    public subscript(name: String) -> UnsafeMutablePointer<Float> { storage + layout.offset(name) }

    /// A copy of one tensor's values.
    public func values(_ name: String) -> [Float] {
        guard let entry = layout.entry(name) else { preconditionFailure("no parameter named \(name)") }
        return Array(UnsafeBufferPointer(start: storage + entry.offset, count: entry.count))
    }

    public func zero() { storage.update(repeating: 0, count: layout.count) }
}
