/// The payload of a captions shard file (`PreparedFormat`): an index of each sample's captions, an index of
/// each caption's bytes, then the UTF-8 text.
/// ```
/// first  uint64 (count + 1)      sample i's captions are first[i] ..< first[i + 1]
/// start  uint64 (captions + 1)   caption j is text[start[j] ..< start[j + 1]]
/// text   uint8  (text bytes)
/// ```
struct ShardCaptions {
    /// The whole file (header, then payload).
    let file: UnsafeRawBufferPointer
    let count: Int
    let captions: Int

    private var startsOffset: Int { ShardHeader.size + 8 * (count + 1) }
    private var textOffset: Int { startsOffset + 8 * (captions + 1) }

    /// sample i's first caption; `first(count)` is the number of captions.
    func first(_ i: Int) -> Int { word(ShardHeader.size + 8 * i) }

    /// Where caption j's bytes lie in `file`.
    func text(_ j: Int) -> Range<Int> { textOffset + word(startsOffset + 8 * j) ..< textOffset + word(startsOffset + 8 * j + 8) }

    private func word(_ offset: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }

    /// Checks that the index is well-formed: every sample has at least one caption, both indices rise from 0
    /// to their totals (`captions`, `textBytes`). Throws naming `name`.
    func check(textBytes: Int, name: String) throws {
        guard first(0) == 0, first(count) == captions else {
            throw PreparedDataError(name, "caption index runs from \(first(0)) to \(first(count)), not 0 to \(captions)")
        }
        for i in 0..<count where first(i + 1) <= first(i) {
            throw PreparedDataError(name, "sample \(i) has no caption (or the caption index falls): the file is damaged")
        }
        var previous = word(startsOffset)
        guard previous == 0 else { throw PreparedDataError(name, "text index starts at \(previous), not 0") }
        for j in 0..<captions {
            let next = word(startsOffset + 8 * (j + 1))
            guard next >= previous, next <= textBytes else {
                throw PreparedDataError(name, "caption \(j) ends at text byte \(next), outside \(previous)...\(textBytes)")
            }
            previous = next
        }
        guard previous == textBytes else {
            throw PreparedDataError(name, "the captions end at text byte \(previous) of \(textBytes)")
        }
    }

    /// The payload for `samples`' captions, and its shape fields (captions in all, text bytes).
    static func payload(_ samples: [[String]]) -> (bytes: [UInt8], captions: Int, textBytes: Int) {
        var first: [UInt64] = [0], start: [UInt64] = [0], text: [UInt8] = []
        for captions in samples {
            for caption in captions {
                text += caption.utf8
                start.append(UInt64(text.count))
            }
            first.append(UInt64(start.count - 1))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * (first.count + start.count) + text.count)
        for word in first + start { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
        bytes += text
        return (bytes, start.count - 1, text.count)
    }
}
