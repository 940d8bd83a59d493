/// GPT-2's reversible map from the 256 byte values to printable Unicode characters, which byte-level BPE
/// uses so that every UTF-8 byte of a text is a vocabulary symbol (`bytes_to_unicode` in OpenAI's
/// `simple_tokenizer.py`, and the `ByteLevel` pre-tokenizer of Hugging Face `tokenizers`).
///
/// ```
/// byte b in '!'...'~', '¡'...'¬', '®'...'ÿ'   ->  the character with code point b
/// every other byte, in increasing order       ->  U+0100, U+0101, ... (the n-th such byte gets U+0100 + n)
/// ```
/// The vocabulary's first 256 ids are these characters in that order (the printable bytes first).
enum ByteEncoder {
    /// `characters[b]` is the character that stands for byte `b`.
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The bytes that stand for themselves: `!`...`~`, `¡`...`¬`, `®`...`ÿ`.
    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
