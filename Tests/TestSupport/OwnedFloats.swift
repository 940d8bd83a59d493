/// A Float32 copy of an array at a stable address, freed with the object: test inputs for kernels
/// and towers that take pointers.
public final class OwnedFloats {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(from: values, count: count)
    }

    public init(zeros count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: count)
    }

    deinit { pointer.deallocate() }

    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
