import Foundation

/// Why a tokenizer could not be loaded from `vocab.json` and `merges.txt`. Every message names the file
/// (its last path component) and the problem.
public enum CLIPTokenizerError: Error, CustomStringConvertible {
    /// The file does not exist.
    case missingFile(URL)
    /// The file exists but could not be read, or is not UTF-8 text.
    case unreadableFile(URL, reason: String)
    /// `vocab.json` is not valid JSON, or not an object of tokens.
    case invalidJSON(URL, reason: String)
    /// A `vocab.json` value is not an integer.
    case vocabularyEntryNotInteger(URL, token: String)
    /// Two tokens of `vocab.json` have the same id.
    case duplicateId(URL, id: Int, tokens: [String])
    /// An id of `vocab.json` is outside `0..<count` (with `count` entries the ids must be exactly `0..<count`).
    case idOutOfRange(URL, token: String, id: Int, count: Int)
    /// A required special token is not in `vocab.json`.
    case missingSpecialToken(URL, token: String)
    /// A line of `merges.txt` is not two tokens separated by one space (`line` counts from 1).
    case malformedMergesLine(URL, line: Int, text: String)
    /// A token of a merge is not in the vocabulary.
    case mergeTokenNotInVocabulary(URL, line: Int, token: String)
    /// The concatenation of a merge's two tokens is not in the vocabulary.
    case mergeResultNotInVocabulary(URL, line: Int, result: String)

    public var description: String {
        switch self {
        case .missingFile(let url):
            return "\(url.lastPathComponent): missing file (\(url.path))"
        case .unreadableFile(let url, let reason):
            return "\(url.lastPathComponent): cannot read the file: \(reason)"
        case .invalidJSON(let url, let reason):
            return "\(url.lastPathComponent): not valid JSON of a token -> id object: \(reason)"
        case .vocabularyEntryNotInteger(let url, let token):
            return "\(url.lastPathComponent): vocab entry \(quoted(token)) is not an integer"
        case .duplicateId(let url, let id, let tokens):
            return "\(url.lastPathComponent): duplicate id \(id) for \(tokens.map(quoted).joined(separator: " and "))"
        case .idOutOfRange(let url, let token, let id, let count):
            return "\(url.lastPathComponent): id \(id) of \(quoted(token)) is out of range 0..<\(count)"
        case .missingSpecialToken(let url, let token):
            return "\(url.lastPathComponent): missing special token \(token)"
        case .malformedMergesLine(let url, let line, let text):
            return "\(url.lastPathComponent):\(line): malformed merges line \(quoted(text)) "
                + "(expected two tokens separated by one space)"
        case .mergeTokenNotInVocabulary(let url, let line, let token):
            return "\(url.lastPathComponent):\(line): merge token \(quoted(token)) is not in the vocabulary"
        case .mergeResultNotInVocabulary(let url, let line, let result):
            return "\(url.lastPathComponent):\(line): merge result \(quoted(result)) is not in the vocabulary"
        }
    }
}

/// A token in double quotes with Swift escapes, so that invisible characters show.
private func quoted(_ token: String) -> String {
    "\"" + token.unicodeScalars.map { $0.escaped(asASCII: false) }.joined() + "\""
}
