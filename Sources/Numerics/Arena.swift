/// Memory planned once: a plan collects the sizes of every buffer a computation needs, then one
/// allocation is cut into those slices. Nothing is allocated while a step runs.
///
/// ```
/// var plan = ArenaPlan()
/// let hidden = plan.reserve(batch * tokens * width)   // (B, T, D)
/// let arena = Arena(plan)
/// let pointer = arena[hidden]
/// ```
/// Slices start on 64-byte boundaries; the memory is zero-filled at allocation.
public struct ArenaPlan: Sendable {
    public private(set) var count = 0

    public init() {}

    /// Reserves `elements` floats and returns their slice.
    public mutating func reserve(_ elements: Int) -> ArenaSlice {
        precondition(elements >= 0, "negative reservation \(elements)")
        let slice = ArenaSlice(offset: count, count: elements)
        count += (elements + 15) / 16 * 16
        return slice
    }
}

/// A range of floats inside an `Arena`.
public struct ArenaSlice: Sendable, Equatable {
    public let offset: Int
    public let count: Int
    public static let empty = ArenaSlice(offset: 0, count: 0)
}

/// One aligned, zero-filled Float32 allocation holding every slice of an `ArenaPlan`.
public final class Arena: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ plan: ArenaPlan) {
        count = max(plan.count, 16)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: count)
        base.initialize(repeating: 0, count: count)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    public subscript(slice: ArenaSlice) -> UnsafeMutablePointer<Float> {
        precondition(slice.offset + slice.count <= count, "slice outside its arena")
        return base + slice.offset
    }

    /// Total size in bytes (for memory reports).
    public var byteCount: Int { count * MemoryLayout<Float>.stride }
}
