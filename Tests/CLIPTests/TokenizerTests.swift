import Foundation
import XCTest
import CLIP
import TestSupport

/// `CLIPTokenizer` against the ids transformers' `CLIPTokenizer` gives (Tests/Fixtures/tokenizer/cases.json,
/// written by Tests/Fixtures/make_tokenizer_fixtures.py), and its errors on broken files.
final class TokenizerTests: XCTestCase {
    // MARK: Agreement with transformers

    func testMatchesTransformersWithClipVocabulary() throws {
        try assertMatchesTransformers(folder: "clip-vocabulary", minimumCases: 250)
    }

    func testMatchesTransformersWithSmallVocabulary() throws {
        try assertMatchesTransformers(folder: "small-vocabulary", minimumCases: 30)
    }

    /// Every case of the vocabulary's section: `encode` and `tokenize` give transformers' ids.
    private func assertMatchesTransformers(folder: String, minimumCases: Int) throws {
        let fixture = try TokenizerFixture.load()
        let section = try XCTUnwrap(fixture.vocabularies.first { $0.folder == folder }, "no section \(folder)")
        let tokenizer = try folder == "clip-vocabulary" ? CLIPTokenizer.bundled()
            : CLIPTokenizer(directory: fixturesDirectory.appendingPathComponent(folder))
        XCTAssertEqual(tokenizer.vocabularySize, section.vocabularySize, "\(folder): vocabulary size")
        XCTAssertEqual(tokenizer.startOfText, section.startOfText, "\(folder): <|startoftext|> id")
        XCTAssertEqual(tokenizer.endOfText, section.endOfText, "\(folder): <|endoftext|> id")
        XCTAssertGreaterThanOrEqual(section.cases.count, minimumCases, "\(folder): too few cases in the fixture")
        var failures = 0
        for testCase in section.cases {
            let text = testCase.text.debugDescription
            let encoded = tokenizer.encode(testCase.text)
            let tokenized = tokenizer.tokenize(testCase.text, contextLength: fixture.contextLength,
                                               padding: section.padding)
            XCTAssertEqual(encoded, testCase.encode,
                           "\(folder) encode \(text): expected \(testCase.encode), got \(encoded)")
            XCTAssertEqual(tokenized, testCase.tokenize,
                           "\(folder) tokenize \(text): expected \(testCase.tokenize), got \(tokenized)")
            if encoded != testCase.encode || tokenized != testCase.tokenize { failures += 1 }
        }
        XCTAssertEqual(failures, 0, "\(folder): \(failures) of \(section.cases.count) cases differ")
    }

    // MARK: Truncation and padding

    /// Too long a text keeps SOT, the first `contextLength - 2` ids and EOT; a short one is padded.
    func testTruncationKeepsEndOfTextAndPadding() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let text = String(repeating: "a photo of a cat ", count: 30)
        let ids = tokenizer.encode(text)
        XCTAssertEqual(ids.count, 150, "ids of the long text")
        for contextLength in [2, 3, 10, 77, 151, 152, 160] {
            let tokens = tokenizer.tokenize(text, contextLength: contextLength, padding: -1)
            let kept = min(ids.count, contextLength - 2)
            let expected = [tokenizer.startOfText] + ids.prefix(kept) + [tokenizer.endOfText]
                + Array(repeating: -1, count: contextLength - kept - 2)
            XCTAssertEqual(tokens.count, contextLength, "length for context length \(contextLength)")
            XCTAssertEqual(tokens, expected, "tokens for context length \(contextLength)")
        }
    }

    // MARK: Small hand-written files

    /// Files without the "#version" line, with CRLF line ends, and without byte characters: a missing
    /// character becomes <|endoftext|>, the unknown token (ids from transformers 5.23).
    func testUnknownCharactersBecomeEndOfText() throws {
        let directory = try temporaryDirectory()
        try write(#"{"a":0,"b</w>":1,"ab</w>":2,"<|startoftext|>":3,"<|endoftext|>":4}"#, to: directory, "vocab.json")
        try write("a b</w>\r\n", to: directory, "merges.txt")
        let tokenizer = try CLIPTokenizer(directory: directory)
        let expected: [(String, [Int32])] = [("ab", [2]), ("b", [1]), ("ba", [4, 4]), ("c", [4]), ("ab ab", [2, 2]),
                                             ("aab", [0, 2])]
        for (text, ids) in expected {
            XCTAssertEqual(tokenizer.encode(text), ids, "encode \(text.debugDescription)")
        }
        XCTAssertEqual(tokenizer.vocabularySize, 5, "vocabulary size")
    }

    // MARK: Errors

    func testMissingFiles() throws {
        let directory = try temporaryDirectory()
        try assertLoadFails(directory, mentions: "vocab.json", "missing file")
        try write(Self.vocabulary, to: directory, "vocab.json")
        try assertLoadFails(directory, mentions: "merges.txt", "missing file")
    }

    func testVocabularyErrors() throws {
        let cases: [(vocabulary: String, problem: String)] = [
            ("{\"a\": 0,", "not valid JSON"),
            ("[0, 1]", "not valid JSON"),
            (#"{"a":0,"b":1.5,"<|startoftext|>":2,"<|endoftext|>":3}"#, #"vocab entry "b" is not an integer"#),
            (#"{"a":0,"b":"1","<|startoftext|>":2,"<|endoftext|>":3}"#, #"vocab entry "b" is not an integer"#),
            (#"{"a":0,"b":0,"<|startoftext|>":2,"<|endoftext|>":3}"#, #"duplicate id 0 for "a" and "b""#),
            (#"{"a":0,"b":7,"<|startoftext|>":1,"<|endoftext|>":2}"#, #"id 7 of "b" is out of range 0..<4"#),
            (#"{"a":-1,"b":0,"<|startoftext|>":1,"<|endoftext|>":2}"#, #"id -1 of "a" is out of range 0..<4"#),
            (#"{"a":0,"<|endoftext|>":1}"#, "missing special token <|startoftext|>"),
            (#"{"a":0,"<|startoftext|>":1}"#, "missing special token <|endoftext|>"),
        ]
        for (vocabulary, problem) in cases {
            let directory = try temporaryDirectory()
            try write(vocabulary, to: directory, "vocab.json")
            try write("", to: directory, "merges.txt")
            try assertLoadFails(directory, mentions: "vocab.json", problem)
        }
    }

    func testMergesErrors() throws {
        let cases: [(merges: String, problem: String)] = [
            ("#version: 0.2\na b\nab\n", "merges.txt:3: malformed merges line \"ab\""),
            ("a b\na  b\n", "merges.txt:2: malformed merges line \"a  b\""),
            ("a b\n\na b</w>\n", "merges.txt:2: malformed merges line \"\""),
            ("a c\n", "merges.txt:1: merge token \"c\" is not in the vocabulary"),
            ("a b\nb a\n", "merges.txt:2: merge result \"ba\" is not in the vocabulary"),
        ]
        for (merges, problem) in cases {
            let directory = try temporaryDirectory()
            try write(Self.vocabulary, to: directory, "vocab.json")
            try write(merges, to: directory, "merges.txt")
            try assertLoadFails(directory, mentions: "merges.txt", problem)
        }
        let directory = try temporaryDirectory()
        try write(Self.vocabulary, to: directory, "vocab.json")
        try Data([0x61, 0x20, 0xFF, 0x0A]).write(to: directory.appendingPathComponent("merges.txt"))
        try assertLoadFails(directory, mentions: "merges.txt", "line 1 is not UTF-8 text")
    }

    /// A valid vocabulary for the merges tests: "a b" and "a b</w>" are valid merges.
    private static let vocabulary =
        #"{"a":0,"b":1,"ab":2,"b</w>":3,"ab</w>":4,"<|startoftext|>":5,"<|endoftext|>":6}"#

    /// Loading `directory` throws a `CLIPTokenizerError` whose message contains `file` and `problem`.
    private func assertLoadFails(_ directory: URL, mentions file: String, _ problem: String,
                                 line: UInt = #line) throws {
        do {
            _ = try CLIPTokenizer(directory: directory)
            XCTFail("loaded although \(file) should be rejected with \(problem.debugDescription)", line: line)
        } catch let error as CLIPTokenizerError {
            let message = error.description
            XCTAssertTrue(message.contains(file), "message \(message.debugDescription) does not name \(file)",
                          line: line)
            XCTAssertTrue(message.contains(problem),
                          "message \(message.debugDescription) does not say \(problem.debugDescription)", line: line)
        }
    }

    private func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("CLIPTokenizerTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    private func write(_ text: String, to directory: URL, _ name: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }
}

/// Tests/Fixtures/tokenizer/cases.json.
private struct TokenizerFixture: Decodable {
    let contextLength: Int
    let vocabularies: [Section]

    struct Section: Decodable {
        let folder: String
        let vocabularySize: Int
        let startOfText: Int32
        let endOfText: Int32
        let padding: Int32
        let cases: [Case]
    }

    struct Case: Decodable {
        let text: String
        let encode: [Int32]
        let tokenize: [Int32]
    }

    static func load() throws -> TokenizerFixture {
        let url = fixturesDirectory.appendingPathComponent("tokenizer/cases.json")
        return try JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }
}
