/// The special tokens `<|startoftext|>` and `<|endoftext|>` as transformers' `CLIPTokenizer` finds them in
/// the raw text: they are added tokens with `normalized=False`, so an exact, case-sensitive occurrence in
/// the text as given (before normalization) becomes the token's id, and the text around it is normalized
/// and pre-tokenized on its own. Other spellings (`<|ENDOFTEXT|>`) are ordinary text.
enum SpecialTokens {
    enum Segment {
        /// Ordinary text: these scalars of the input.
        case text(Range<Int>)
        case startOfText
        case endOfText
    }

    /// The input cut at each occurrence of a special token, in order; empty text segments are left out.
    static func segments(_ text: [Unicode.Scalar]) -> [Segment] {
        var segments: [Segment] = []
        var textStart = 0
        var position = 0
        while position < text.count {
            guard text[position] == "<",
                  let (literal, segment) = literals.first(where: { text[position...].starts(with: $0.0) })
            else {
                position += 1
                continue
            }
            if textStart < position { segments.append(.text(textStart..<position)) }
            segments.append(segment)
            position += literal.count
            textStart = position
        }
        if textStart < text.count { segments.append(.text(textStart..<text.count)) }
        return segments
    }

    private static let literals: [([Unicode.Scalar], Segment)] = [
        (Array("<|startoftext|>".unicodeScalars), .startOfText),
        (Array("<|endoftext|>".unicodeScalars), .endOfText),
    ]
}
