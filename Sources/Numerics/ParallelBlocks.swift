/// Runs `body(range)` over 0..<count in blocks of `blockSize` elements (the last one shorter), the blocks spread
/// over the kernel threads by `parallelRows` when the work pays for them (`cost`: operations per element). Block
/// boundaries do not depend on the thread count, so an element-wise kernel gives the same bits on any number.
@inline(__always)
public func parallelBlocks(_ count: Int, blockSize: Int = 1 << 14, cost: Int, _ body: (Range<Int>) -> Void) {
    parallelRows((count + blockSize - 1) / blockSize, cost: blockSize * cost) { block in
        body((block * blockSize)..<min(count, (block + 1) * blockSize))
    }
}
