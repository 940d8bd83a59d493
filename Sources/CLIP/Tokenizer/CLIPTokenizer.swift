import Foundation

/// CLIP's byte-level BPE tokenizer, giving the same ids as transformers 5.23's `CLIPTokenizer`.
///
/// In transformers 5 `CLIPTokenizer` is the `tokenizers`-backed class (`TokenizersBackend`; the slow
/// Python tokenizer is gone). That is what we match, checked against transformers 5.23.0 with
/// `tokenizers` 0.23.3. OpenAI's original `simple_tokenizer.py` differs: it first runs `ftfy.fix_text`
/// and a double `html.unescape` (`&amp;` -> `&`), and its pattern is case-insensitive; we do neither.
///
/// Encoding a text:
/// ```
/// 1. <|startoftext|> and <|endoftext|> in the raw text become their ids        (SpecialTokens)
/// 2. the text between them: NFC, whitespace collapse, per-scalar lowercase     (TextNormalizer)
/// 3. cut into pieces: contractions, letter runs, single numbers, other runs    (PreTokenizer)
/// 4. each piece's UTF-8 bytes -> vocabulary ids of their ByteEncoder characters,
///    the last one with "</w>" appended                                          (ByteEncoder)
/// 5. merge by rank                                                              (BPEMerges)
/// ```
/// A character missing from the vocabulary in step 4 becomes the unknown token, which for CLIP is
/// `<|endoftext|>` (every byte is in CLIP's vocabulary, so this never happens with it).
public struct CLIPTokenizer: Sendable {
    /// id of `<|startoftext|>`
    public let startOfText: Int32
    /// id of `<|endoftext|>` (also the unknown token)
    public let endOfText: Int32
    /// Number of entries of `vocab.json`, whose ids are `0..<vocabularySize`.
    public let vocabularySize: Int
    /// The files it was read from (`CLIPModel.save` copies them next to a saved model).
    public let vocabularyURL: URL
    public let mergesURL: URL

    private let merges: BPEMerges
    /// byte -> id of its character, as the initial symbol of a piece's non-final bytes
    private let byteIds: [Int32]
    /// byte -> id of its character + "</w>", for a piece's final byte
    private let finalByteIds: [Int32]
    private let cache = BPECache(capacity: 10_000)

    /// Loads `vocab.json` (token -> id) and `merges.txt` (first line "#version: ..." optional) from a
    /// Hugging Face model folder.
    public init(vocabulary: URL, merges: URL) throws {
        let vocabularyFile = try Vocabulary(contentsOf: vocabulary)
        let ids = vocabularyFile.ids
        guard let startOfText = ids["<|startoftext|>"] else {
            throw CLIPTokenizerError.missingSpecialToken(vocabulary, token: "<|startoftext|>")
        }
        guard let endOfText = ids["<|endoftext|>"] else {
            throw CLIPTokenizerError.missingSpecialToken(vocabulary, token: "<|endoftext|>")
        }
        self.startOfText = startOfText
        self.endOfText = endOfText
        vocabularySize = ids.count
        vocabularyURL = vocabulary
        mergesURL = merges
        self.merges = try BPEMerges(contentsOf: merges, vocabulary: vocabularyFile)
        byteIds = ByteEncoder.characters.map { ids[String($0)] ?? endOfText }
        finalByteIds = ByteEncoder.characters.map { ids[String($0) + "</w>"] ?? endOfText }
    }

    /// Loads `directory/vocab.json` and `directory/merges.txt`.
    public init(directory: URL) throws {
        try self.init(vocabulary: directory.appendingPathComponent("vocab.json"),
                      merges: directory.appendingPathComponent("merges.txt"))
    }

    /// BPE ids of the text, without SOT/EOT.
    public func encode(_ text: String) -> [Int32] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int32] = []
        for segment in SpecialTokens.segments(scalars) {
            switch segment {
            case .startOfText:
                ids.append(startOfText)
            case .endOfText:
                ids.append(endOfText)
            case .text(let range):
                let normalized = TextNormalizer.normalize(scalars[range])
                for piece in PreTokenizer.pieces(normalized) {
                    ids += encodePiece(normalized[piece])
                }
            }
        }
        return ids
    }

    /// `[SOT] + ids + [EOT]`, with the ids cut so that it fits `contextLength` while keeping EOT (as
    /// transformers' `truncation=True, max_length=contextLength`), then padded with `padding` up to
    /// `contextLength`. Requires `contextLength >= 2`.
    public func tokenize(_ text: String, contextLength: Int, padding: Int32) -> [Int32] {
        precondition(contextLength >= 2, "context length \(contextLength) has no room for SOT and EOT")
        var tokens = [startOfText]
        tokens += encode(text).prefix(contextLength - 2)
        tokens.append(endOfText)
        tokens += repeatElement(padding, count: contextLength - tokens.count)
        return tokens
    }

    /// The ids of one piece of normalized text (steps 4 and 5).
    private func encodePiece(_ piece: ArraySlice<Unicode.Scalar>) -> [Int32] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(piece.count)
        for scalar in piece {
            Unicode.UTF8.encode(scalar) { bytes.append($0) }
        }
        return cache.ids(for: bytes) {
            var symbols = bytes.map { byteIds[Int($0)] }
            symbols[symbols.count - 1] = finalByteIds[Int(bytes[bytes.count - 1])]
            return merges.apply(to: symbols)
        }
    }
}
