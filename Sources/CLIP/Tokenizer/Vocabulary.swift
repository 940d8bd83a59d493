import Foundation

/// The `vocab.json` of a Hugging Face BPE tokenizer: a JSON object from token to id.
///
/// Rules checked on load: every value is an integer, no two tokens share an id, and with `count` entries
/// the ids are exactly `0..<count` (so `count` is also the size of an embedding table indexed by id).
///
/// Tokens are Swift `String`s, which compare by canonical equivalence. Byte-level tokens are made of the
/// 256 characters of `ByteEncoder`, none of which is a combining mark, so for them this is the same as
/// comparing bytes.
struct Vocabulary: Sendable {
    /// token -> id
    let ids: [String: Int32]

    init(contentsOf url: URL) throws {
        let data = try readTokenizerFile(url)
        let entries: [String: Entry]
        do {
            entries = try JSONDecoder().decode([String: Entry].self, from: data)
        } catch let error as DecodingError {
            throw CLIPTokenizerError.invalidJSON(url, reason: Self.reason(error))
        }
        // Problems are looked for in a fixed order, so that the one reported does not depend on hashing.
        let notIntegers = entries.compactMap { token, entry -> String? in
            if case .notAnInteger = entry { return token } else { return nil }
        }
        if let token = notIntegers.min(by: Self.precedes) {
            throw CLIPTokenizerError.vocabularyEntryNotInteger(url, token: token)
        }
        let sorted = entries.compactMap { token, entry -> (token: String, id: Int)? in
            if case .id(let id) = entry { return (token, id) } else { return nil }
        }.sorted { $0.id != $1.id ? $0.id < $1.id : Self.precedes($0.token, $1.token) }
        for index in sorted.indices.dropFirst() where sorted[index - 1].id == sorted[index].id {
            throw CLIPTokenizerError.duplicateId(url, id: sorted[index].id,
                                                 tokens: [sorted[index - 1].token, sorted[index].token])
        }
        // The ids are distinct and sorted, so they are exactly 0..<count when the first and last are in range.
        for entry in [sorted.first, sorted.last].compactMap({ $0 }) where !(0..<sorted.count).contains(entry.id) {
            throw CLIPTokenizerError.idOutOfRange(url, token: entry.token, id: entry.id, count: sorted.count)
        }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(sorted.count)
        for entry in sorted { ids[entry.token] = Int32(entry.id) }
        self.ids = ids
    }

    /// Byte order of the UTF-8 encodings.
    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// One value of the JSON object: an integer id, or anything else (reported with its token).
    private enum Entry: Decodable {
        case id(Int)
        case notAnInteger

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let id = try? container.decode(Int.self) {
                self = .id(id)
            } else {
                self = .notAnInteger
            }
        }
    }

    /// The decoder's explanation, including the underlying parser error when there is one.
    private static func reason(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context),
             .valueNotFound(_, let context), .keyNotFound(_, let context):
            let underlying = context.underlyingError.map { " (\($0))" } ?? ""
            return context.debugDescription + underlying
        @unknown default:
            return "\(error)"
        }
    }
}
