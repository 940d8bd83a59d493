import Numerics
import XCTest
@testable import Continual

/// Ranks and R@K on hand-made similarity matrices, ties included, and against a sort-based reference.
final class RetrievalRecallTests: XCTestCase {
    /// 3 images x 6 captions, captions 2i and 2i+1 describe image i:
    /// ```
    ///           c0    c1    c2    c3    c4    c5
    /// img0     0.9   0.1   0.8   0.2   0.3   0.0
    /// img1     0.7   0.6   0.5   0.65  0.1   0.2
    /// img2     0.4   0.4   0.3   0.1   0.4   0.2
    /// ```
    private let similarity: [Float] = [0.9, 0.1, 0.8, 0.2, 0.3, 0.0,
                                       0.7, 0.6, 0.5, 0.65, 0.1, 0.2,
                                       0.4, 0.4, 0.3, 0.1, 0.4, 0.2]
    private let captionImages = [0, 0, 1, 1, 2, 2]

    private func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    /// image→text, best relevant caption of each image:
    /// ```
    /// img0: best of c0, c1 = 0.9, nothing above              -> rank 1
    /// img1: best of c2, c3 = 0.65, c0 (0.7) above            -> rank 2
    /// img2: best of c4, c5 = 0.4, c0 and c1 tie at 0.4       -> rank 3 (ties count against)
    /// ```
    /// text→image (columns), the caption's image:
    /// ```
    /// c0: 0.9 top -> 1;  c1: 0.1, below 0.6 and 0.4 -> 3;  c2: 0.5, below 0.8 -> 2
    /// c3: 0.65 top -> 1;  c4: 0.4 top -> 1;  c5: 0.2, img1 ties at 0.2 -> 2
    /// ```
    func testBestRanksBothDirectionsWithPessimisticTies() throws {
        let captions = try RetrievalRecall.captionsOfImages(captionImages: captionImages, imageCount: 3)
        XCTAssertEqual(captions, [[0, 1], [2, 3], [4, 5]], "captions of each image")
        let imageToText = try RetrievalRecall.bestRanks(similarity: similarity, rows: 3, columns: 6, queries: .rows,
                                                        relevant: captions)
        XCTAssertEqual(imageToText, [1, 2, 3], "image→text ranks")
        let textToImage = try RetrievalRecall.bestRanks(similarity: similarity, rows: 3, columns: 6, queries: .columns,
                                                        relevant: captionImages.map { [$0] })
        XCTAssertEqual(textToImage, [1, 3, 2, 1, 1, 2], "text→image ranks")
    }

    /// Constant similarities: every other image's captions tie the relevant ones and rank first, so a model that
    /// says nothing scores R@1 0. 2 images x 12 captions (6 each): rank 1 + 6 = 7 -> R@1 0, R@5 0, R@10 100.
    /// Relevant captions tying each other do not push each other down: one row where c0 and c1 tie at the top.
    func testConstantSimilaritiesRankPessimisticallyButRelevantTiesDoNotCount() throws {
        let captions = try RetrievalRecall.captionsOfImages(captionImages: (0..<12).map { $0 / 6 }, imageCount: 2)
        let ranks = try RetrievalRecall.bestRanks(similarity: Array(repeating: 0.5, count: 24), rows: 2, columns: 12,
                                                  queries: .rows, relevant: captions)
        XCTAssertEqual(ranks, [7, 7], "six non-relevant ties before the relevant caption")
        XCTAssertEqual(try RetrievalRecall.recall(ranks: ranks, of: 0..<2), RecallAtK(r1: 0, r5: 0, r10: 100),
                       "R@K of constant similarities")
        let tied = try RetrievalRecall.bestRanks(similarity: [1, 1, 0.5, 0.2], rows: 1, columns: 4, queries: .rows,
                                                 relevant: [[0, 1]])
        XCTAssertEqual(tied, [1], "two relevant captions tying at the top: rank 1")
        let repeated = try RetrievalRecall.bestRanks(similarity: [0.3, 0.9, 0.5], rows: 1, columns: 3, queries: .rows,
                                                     relevant: [[2, 2, 0]])
        XCTAssertEqual(repeated, [2], "repeats and order of the relevant list do not matter: 0.5 under 0.9")
    }

    /// ```
    /// ranks          [1, 2, 5, 6, 10, 11 | 3, 1]
    /// queries 0..<6  R@1 1/6, R@5 3/6 (1, 2, 5), R@10 5/6 (all but 11)
    /// queries 6, 7   R@1 1/2, R@5 2/2, R@10 2/2
    /// ```
    func testRecallAtKOverOneQueryTask() throws {
        let ranks = [1, 2, 5, 6, 10, 11, 3, 1]
        let first = try RetrievalRecall.recall(ranks: ranks, of: 0..<6)
        XCTAssertEqual(first.r1, 100.0 / 6, accuracy: 1e-12, "R@1 of the first task")
        XCTAssertEqual(first.r5, 50, accuracy: 1e-12, "R@5: rank 5 counts, 6 does not")
        XCTAssertEqual(first.r10, 500.0 / 6, accuracy: 1e-12, "R@10: rank 10 counts, 11 does not")
        XCTAssertEqual(try RetrievalRecall.recall(ranks: ranks, of: [6, 7]), RecallAtK(r1: 50, r5: 100, r10: 100),
                       "the second task's queries")
        XCTAssertEqual(first[.r5], first.r5, "subscript by cutoff")
    }

    /// Random similarities on a coarse grid (many ties) against a reference that sorts the gallery by
    /// similarity, non-relevant items first among equals, and takes the first relevant position.
    func testAgreesWithASortedReference() throws {
        var generator = SplitMix64(seed: 11)
        let (rows, columns) = (7, 20)
        for trial in 0..<20 {
            let similarity = (0..<(rows * columns)).map { _ in Float(Int.random(in: 0..<5, using: &generator)) / 4 }
            let relevant = (0..<rows).map { _ in Array(Set((0..<Int.random(in: 1...4)).map { _ in Int.random(in: 0..<columns) })) }
            let ranks = try RetrievalRecall.bestRanks(similarity: similarity, rows: rows, columns: columns, queries: .rows,
                                                      relevant: relevant)
            for q in 0..<rows {
                let order = (0..<columns).sorted {
                    let (a, b) = (similarity[q * columns + $0], similarity[q * columns + $1])
                    return a != b ? a > b : (!relevant[q].contains($0) && relevant[q].contains($1))
                }
                let reference = order.firstIndex { relevant[q].contains($0) }! + 1
                XCTAssertEqual(ranks[q], reference, "trial \(trial), query \(q): \(Array(similarity[(q * columns)..<((q + 1) * columns)])), relevant \(relevant[q])")
            }
        }
    }

    /// The k best of each row and column, ties by the lower index:
    /// ```
    /// img1's row 0.7 0.6 0.5 0.65 0.1 0.2 -> c0, c3, c1;   img2's 0.4 0.4 0.3 0.1 0.4 0.2 -> c0, c1, c4 (tied, by index)
    /// c0's column 0.9 0.7 0.4 -> img0, img1;   k beyond the gallery keeps all of it
    /// ```
    func testTopCandidatesAreBestFirstWithTiesByIndex() {
        let rows = RetrievalRecall.topCandidates(similarity: similarity, rows: 3, columns: 6, queries: .rows, k: 3)
        XCTAssertEqual(rows, [[0, 2, 4], [0, 3, 1], [0, 1, 4]], "each image's 3 best captions")
        let columns = RetrievalRecall.topCandidates(similarity: similarity, rows: 3, columns: 6, queries: .columns, k: 2)
        XCTAssertEqual(columns, [[0, 1], [1, 2], [0, 1], [1, 0], [2, 0], [1, 2]], "each caption's 2 best images")
        XCTAssertEqual(RetrievalRecall.topCandidates(similarity: similarity, rows: 3, columns: 6, queries: .columns, k: 9)[0],
                       [0, 1, 2], "k capped at the gallery")
        XCTAssertEqual(RetrievalRecall.topCandidates(similarity: similarity, rows: 3, columns: 6, queries: .rows, k: 0),
                       [[], [], []], "no candidates")
    }

    /// Re-scored candidates come first in their new order; a relevant item outside them ranks after all of them.
    /// ```
    /// img1 (relevant c2, c3), candidates c0, c3, c1 re-scored 0.2, 0.9, 0.95: c3's 0.9 below c1's 0.95 -> rank 2
    /// img2 (relevant c4, c5), candidates c0, c1 re-scored 0.5, 0.6 (c4 not among them): 2 + the others at >= 0.4
    ///      outside them (none: c2 0.3, c3 0.1) -> rank 3
    /// img0 (relevant c0, c1), candidates c0, c2 re-scored 0.1, 0.3: c2 above -> rank 2
    /// ```
    /// With no candidates this is `bestRanks`; with the whole gallery, `bestRanks` of the scores.
    func testRerankedRanksPutTheRescoredCandidatesFirst() throws {
        let captions = try RetrievalRecall.captionsOfImages(captionImages: captionImages, imageCount: 3)
        let ranks = try RetrievalRecall.rerankedRanks(similarity: similarity, rows: 3, columns: 6, queries: .rows,
                                                      candidates: [[0, 2], [0, 3, 1], [0, 1]],
                                                      scores: [[0.1, 0.3], [0.2, 0.9, 0.95], [0.5, 0.6]], relevant: captions)
        XCTAssertEqual(ranks, [2, 2, 3], "re-ranked image→text ranks")
        let none = try RetrievalRecall.rerankedRanks(similarity: similarity, rows: 3, columns: 6, queries: .columns,
                                                     candidates: Array(repeating: [], count: 6),
                                                     scores: Array(repeating: [], count: 6),
                                                     relevant: captionImages.map { [$0] })
        XCTAssertEqual(none, try RetrievalRecall.bestRanks(similarity: similarity, rows: 3, columns: 6, queries: .columns,
                                                           relevant: captionImages.map { [$0] }), "no candidates: bestRanks")
        let fused: [Float] = (0..<18).map { Float(($0 * 7) % 11) / 10 }
        let all = Array(repeating: Array(0..<6), count: 3)
        let everything = try RetrievalRecall.rerankedRanks(similarity: similarity, rows: 3, columns: 6, queries: .rows,
                                                           candidates: all,
                                                           scores: (0..<3).map { i in Array(fused[(i * 6)..<(i * 6 + 6)]) },
                                                           relevant: captions)
        XCTAssertEqual(everything, try RetrievalRecall.bestRanks(similarity: fused, rows: 3, columns: 6, queries: .rows,
                                                                 relevant: captions), "every item re-scored: bestRanks of the scores")
        XCTAssertTrue(message { try RetrievalRecall.rerankedRanks(similarity: similarity, rows: 3, columns: 6, queries: .rows,
                                                                 candidates: [[0, 0], [], []], scores: [[0, 0], [], []],
                                                                 relevant: captions) }.contains("query 0 has candidates [0, 0]"),
                      "repeated candidates are refused")
    }

    func testBadInputsThrowClearErrors() {
        XCTAssertEqual(message { try RetrievalRecall.bestRanks(similarity: [1, 2, 3], rows: 2, columns: 2, queries: .rows,
                                                               relevant: [[0], [1]]) },
                       "retrieval: a similarity matrix of 3 values is not 2 x 2")
        XCTAssertEqual(message { try RetrievalRecall.bestRanks(similarity: [1, 2, .nan, 3], rows: 2, columns: 2,
                                                               queries: .rows, relevant: [[0], [1]]) },
                       "retrieval: similarity [1][0] is nan")
        XCTAssertEqual(message { try RetrievalRecall.bestRanks(similarity: [1, 2, 3, 4], rows: 2, columns: 2,
                                                               queries: .rows, relevant: [[0]]) },
                       "retrieval: 1 relevance lists for 2 queries")
        XCTAssertEqual(message { try RetrievalRecall.bestRanks(similarity: [1, 2, 3, 4], rows: 2, columns: 2,
                                                               queries: .columns, relevant: [[0], []]) },
                       "retrieval: query 1 has no relevant gallery item")
        XCTAssertEqual(message { try RetrievalRecall.bestRanks(similarity: [1, 2, 3, 4, 5, 6], rows: 2, columns: 3,
                                                               queries: .columns, relevant: [[0], [2], [1]]) },
                       "retrieval: query 1's relevant item 2 is outside the gallery of 2")
        XCTAssertEqual(message { try RetrievalRecall.recall(ranks: [1, 2], of: 2..<2) }, "retrieval: recall over no queries")
        XCTAssertEqual(message { try RetrievalRecall.recall(ranks: [1, 2], of: [1, 2]) },
                       "retrieval: query 2 is outside the 2 ranked queries")
        XCTAssertEqual(message { try RetrievalRecall.captionsOfImages(captionImages: [0, 2], imageCount: 2) },
                       "retrieval: caption 1 belongs to image 2, outside the 2 images")
        XCTAssertEqual(message { try RetrievalRecall.captionsOfImages(captionImages: [0, 0], imageCount: 2) },
                       "retrieval: image 1 has no caption")
    }
}
