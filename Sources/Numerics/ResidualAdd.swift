/// The residual connection's add, y += x element-wise over `count` floats, in blocks over the kernel threads and
/// eight lanes at a time. Its backward is the identity (the caller passes dy on to both branches).
public enum ResidualAdd {
    public static func forward(_ y: UnsafeMutablePointer<Float>, adding x: UnsafePointer<Float>, count: Int) {
        parallelBlocks(count, cost: 1) { range in
            let body = range.lowerBound + (range.count - range.count % 8)
            for i in stride(from: range.lowerBound, to: body, by: 8) { y.store(y.vector(at: i) + x.vector(at: i), at: i) }
            for i in body..<range.upperBound { y[i] += x[i] }
        }
    }
}
