import Foundation

/// The normalizer of transformers' `CLIPTokenizer`, applied to the text between special tokens:
/// ```
/// normalizers.Sequence([NFC(), Replace(Regex(r"\s+"), " "), Lowercase()])
/// ```
/// - NFC: canonical composition (Foundation's `precomposedStringWithCanonicalMapping`). Text whose scalars
///   are all below U+0300 is already NFC (nothing there composes or decomposes) and is left as it is.
/// - The whitespace collapse is not done here: whitespace only separates pieces in `PreTokenizer`, which
///   drops it, so one space and a run of whitespace give the same pieces.
/// - Lowercase: each scalar is replaced by its full lowercase mapping on its own, as Rust's
///   `char::to_lowercase` in `tokenizers` (so `İ` -> `i` U+0307 and `Σ` -> `σ` even at the end of a word;
///   there is no context-dependent final sigma as in Swift's `String.lowercased()`). The result is not
///   normalized again.
///
/// Checked against `tokenizers` 0.23.3 for every scalar: the lowercase mappings and single-scalar NFC agree.
enum TextNormalizer {
    static func normalize(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        for scalar in composed(text) {
            if scalar.isASCII {
                let value = scalar.value
                result.append((0x41...0x5A).contains(value) ? Unicode.Scalar(value + 0x20)! : scalar)
            } else if scalar.properties.changesWhenLowercased {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return result
    }

    /// NFC of the scalars.
    private static func composed(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        guard text.contains(where: { $0.value >= 0x300 }) else { return Array(text) }
        var string = String.UnicodeScalarView()
        string.append(contentsOf: text)
        return Array(String(string).precomposedStringWithCanonicalMapping.unicodeScalars)
    }
}
