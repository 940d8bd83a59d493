/// Unaligned loads and stores of `SIMD8<Float>` lanes from float buffers, for the vectorised element-wise
/// kernels: `x.vector(at: i)` is x[i ..< i + 8], `y.store(v, at: i)` writes it.
extension UnsafePointer where Pointee == Float {
    @inline(__always)
    func vector(at index: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + index).loadUnaligned(as: SIMD8<Float>.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always)
    func vector(at index: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + index).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    func store(_ value: SIMD8<Float>, at index: Int) {
        UnsafeMutableRawPointer(self + index).storeBytes(of: value, as: SIMD8<Float>.self)
    }
}
