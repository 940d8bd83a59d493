/// The pre-tokenizer of transformers' `CLIPTokenizer`: cuts normalized text into the pieces that BPE
/// encodes one by one (each gets its own end-of-word `</w>`).
///
/// In `tokenizers` it is `Sequence([Split(pattern, behavior="removed", invert=True), ByteLevel(use_regex=True)])`
/// with the (case-sensitive, Oniguruma) pattern
/// ```
/// <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
/// ```
/// whose matches are kept and everything between them (whitespace) dropped. At each position the first
/// alternative that matches wins: a contraction, a run of letters, one number character, or a run of
/// anything that is neither whitespace, letter nor number. `ByteLevel` then splits each match again with
/// GPT-2's pattern (`'s|...|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`). Matches hold no
/// whitespace, so this leaves all of them whole except the literals `<|startoftext|>` and `<|endoftext|>`,
/// which become `<|`, the letters, `|>` (a literal still ends a piece: `<|endoftext|>!` gives `|>` and `!`).
///
/// The case-insensitive flag of OpenAI's original pattern is gone in transformers 5 (it only mattered for
/// `'ſ`, which is not a contraction here).
enum PreTokenizer {
    /// Ranges of `text` to encode, in order.
    static func pieces(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        while start < text.count {
            let kind = CharacterClass(text[start])
            if kind == .whitespace {
                start += 1
            } else if let literal = specialLiterals.first(where: { text[start...].starts(with: $0) }) {
                let end = start + literal.count
                pieces += [start..<(start + 2), (start + 2)..<(end - 2), (end - 2)..<end]
                start = end
            } else if let contraction = contractions.first(where: { text[start...].starts(with: $0) }) {
                pieces.append(start..<(start + contraction.count))
                start += contraction.count
            } else if kind == .number {
                pieces.append(start..<(start + 1))
                start += 1
            } else {
                var end = start + 1
                while end < text.count, CharacterClass(text[end]) == kind { end += 1 }
                pieces.append(start..<end)
                start = end
            }
        }
        return pieces
    }

    private static let specialLiterals: [[Unicode.Scalar]] = ["<|startoftext|>", "<|endoftext|>"].map {
        Array($0.unicodeScalars)
    }
    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map {
        Array($0.unicodeScalars)
    }
}

/// Which of the pattern's classes a scalar is in: `\s`, `\p{L}`, `\p{N}`, or none of them.
///
/// `\s` is the White_Space property; `\p{L}` and `\p{N}` are the general categories L* and N*. Oniguruma
/// in `tokenizers` 0.23.3 knows Unicode 16.0, so scalars assigned later are treated as unassigned (other),
/// which is what it does; with this, all 1,112,064 scalars classify as in `tokenizers`.
enum CharacterClass: Equatable {
    case whitespace, letter, number, other

    /// The Unicode version of the regex engine whose classes we reproduce.
    private static let unicodeVersion = (major: 16, minor: 0)

    init(_ scalar: Unicode.Scalar) {
        if scalar.isASCII {
            switch scalar.value {
            case 0x41...0x5A, 0x61...0x7A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .whitespace
            default: self = .other
            }
            return
        }
        let properties = scalar.properties
        if let age = properties.age, age > Self.unicodeVersion {
            self = .other
        } else if properties.isWhitespace {
            self = .whitespace
        } else {
            switch properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
                self = .letter
            case .decimalNumber, .letterNumber, .otherNumber:
                self = .number
            default:
                self = .other
            }
        }
    }
}
