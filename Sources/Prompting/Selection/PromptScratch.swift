/// Floats at a stable address that a method owns: prompts it computes for a batch (composed, coupled or
/// gathered per sample) and their gradients. Grows when asked for more; the contents are then undefined.
public final class PromptScratch {
    public private(set) var pointer: UnsafeMutablePointer<Float>
    public private(set) var capacity: Int

    public init(capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
        pointer.initialize(repeating: 0, count: self.capacity)
    }

    deinit { pointer.deallocate() }

    /// At least `count` floats; reallocates (invalidating earlier pointers) only when `count` exceeds the capacity.
    @discardableResult
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: 0, count: count)
        }
        return pointer
    }

    /// `count` floats set to zero.
    @discardableResult
    public func zeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = reserve(count)
        p.update(repeating: 0, count: count)
        return p
    }
}
