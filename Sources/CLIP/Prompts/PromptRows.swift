/// The prompt block of every sequence of a (B, T, D) buffer between two encoder layers, as the towers'
/// layer-by-layer steps expose it: sample b's `count` rows of width `width` are contiguous and start at
/// `rows(b)`. They may be read and overwritten in place (LPI-P's cross-modal fusion replaces them).
public struct PromptRows {
    /// Sample 0's first prompt row.
    public let pointer: UnsafeMutablePointer<Float>
    public let batch: Int
    /// Prompt rows per sequence.
    public let count: Int
    public let width: Int
    /// Floats from one sequence to the next (T * D).
    public let sequenceStride: Int

    public init(pointer: UnsafeMutablePointer<Float>, batch: Int, count: Int, width: Int, sequenceStride: Int) {
        self.pointer = pointer
        self.batch = batch
        self.count = count
        self.width = width
        self.sequenceStride = sequenceStride
    }

    /// Sample b's block, (count, width) row-major.
    public func rows(_ b: Int) -> UnsafeMutablePointer<Float> { pointer + b * sequenceStride }

    /// Copies every sample's block into `packed`, (batch, count, width).
    public func copy(to packed: UnsafeMutablePointer<Float>) {
        let block = count * width
        for b in 0..<batch { (packed + b * block).update(from: rows(b), count: block) }
    }

    /// Overwrites every sample's block with `packed`, (batch, count, width).
    public func assign(from packed: UnsafePointer<Float>) {
        let block = count * width
        for b in 0..<batch { rows(b).update(from: packed + b * block, count: block) }
    }

    /// Adds `packed`, (batch, count, width), to every sample's block.
    public func add(_ packed: UnsafePointer<Float>) {
        let block = count * width
        for b in 0..<batch {
            let destination = rows(b), source = packed + b * block
            for i in 0..<block { destination[i] += source[i] }
        }
    }
}
