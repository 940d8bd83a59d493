import Foundation

/// The merge rules of a BPE tokenizer (`merges.txt`), translated to vocabulary ids, and the merging itself.
///
/// File format, as `tokenizers`' `BPE.from_file` reads it: lines separated by `\n` (a trailing `\r` is
/// dropped, a final newline ends the last line); lines starting with `#version` are skipped; every other
/// line is two tokens separated by exactly one space, and its position among those lines is its rank
/// (lower merges first). Both tokens and their concatenation must be in the vocabulary. A pair listed
/// twice keeps its later rank, as in `tokenizers`.
///
/// Merging (`apply`), from OpenAI's `simple_tokenizer.py`:
/// ```
/// while some adjacent pair (a, b) has a rule:
///     take the pair with the lowest rank; replace each occurrence, left to right, by the id of a + b
/// ```
/// `tokenizers` pops single occurrences from a priority queue ordered by (rank, position) instead; the two
/// agree whenever a merged token is only used by rules ranked after the rule that makes it, which holds
/// for every merge list learned by BPE (CLIP's included).
struct BPEMerges: Sendable {
    /// (left << 32 | right) -> rule
    private let rules: [UInt64: Rule]

    /// What an adjacent pair of ids merges into, and how early.
    private struct Rule: Sendable {
        let rank: Int32
        let result: Int32
    }

    init(contentsOf url: URL, vocabulary: Vocabulary) throws {
        let data = try readTokenizerFile(url)
        var rules: [UInt64: Rule] = [:]
        var rank: Int32 = 0
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        rules.reserveCapacity(lines.count)
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            let bytes = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            guard let line = String(bytes: bytes, encoding: .utf8) else {
                throw CLIPTokenizerError.unreadableFile(url, reason: "line \(lineNumber) is not UTF-8 text")
            }
            if line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else {
                throw CLIPTokenizerError.malformedMergesLine(url, line: lineNumber, text: line)
            }
            var pair: [Int32] = []
            for token in parts {
                guard let id = vocabulary.ids[token] else {
                    throw CLIPTokenizerError.mergeTokenNotInVocabulary(url, line: lineNumber, token: token)
                }
                pair.append(id)
            }
            guard let result = vocabulary.ids[parts[0] + parts[1]] else {
                throw CLIPTokenizerError.mergeResultNotInVocabulary(url, line: lineNumber, result: parts[0] + parts[1])
            }
            rules[Self.key(pair[0], pair[1])] = Rule(rank: rank, result: result)
            rank += 1
        }
        self.rules = rules
    }

    /// The symbols after all merges (see the type's comment).
    func apply(to initial: [Int32]) -> [Int32] {
        var symbols = initial
        while symbols.count > 1 {
            var best: (left: Int32, right: Int32, rule: Rule)?
            for i in 0..<(symbols.count - 1) {
                if let rule = rules[Self.key(symbols[i], symbols[i + 1])], rule.rank < best?.rule.rank ?? .max {
                    best = (symbols[i], symbols[i + 1], rule)
                }
            }
            guard let best else { break }
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count - 1)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count, symbols[i] == best.left, symbols[i + 1] == best.right {
                    merged.append(best.rule.result)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}
