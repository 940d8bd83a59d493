import XCTest
import CLIP
@testable import promptcl

/// `bench step` and `bench eval`'s memory columns: what is accounted (`MemoryAccount`, `BenchBatch`) and the peak
/// resident memory read from /proc (`ResidentMemory`).
final class BenchMemoryTests: XCTestCase {
    func testTheAccountIsTheSumOfItsParts() {
        let account = MemoryAccount(weightsBytes: 300 << 20, workspaceBytes: 100 << 20, inputBytes: 20 << 20)
        XCTAssertEqual(account.accountedBytes, 420 << 20, "weights + workspace + inputs")
        XCTAssertEqual(account.ratio(peakBytes: 546 << 20), 1.3, accuracy: 1e-12, "peak over accounted")
    }

    func testABatchCountsTheBytesItHolds() throws {
        let config = TextStepFlopsTests.config
        let vision = try BenchShape.lpi.visionPlan(tokens: 3, config: config.vision)
        XCTAssertEqual(vision.sites.count, 2, "lpi prompts the first min(9, layers) vision layers")
        // Vision only: pixels 4 x 3 x 16 x 16, fixed text embeddings 4 x 8, prompts and gradients 2 x (2 sites x 3 x 8).
        let visionOnly = BenchBatch(config: config, visionPlan: vision, textPlan: nil, batch: 4, captionTokens: 6)
        XCTAssertEqual(visionOnly.byteCount, 4 * (4 * 3 * 16 * 16 + 4 * 8 + 2 * 2 * 3 * 8), "vision-only batch bytes")
        XCTAssertTrue(visionOnly.ids.isEmpty && visionOnly.textEmbeds != nil, "no captions, fixed text embeddings")

        // Both towers, text unprompted: pixels, caption ids 4 x 12 (Int32), vision prompts and gradients.
        let both = BenchBatch(config: config, visionPlan: vision, textPlan: PromptPlan.none, batch: 4, captionTokens: 6)
        XCTAssertEqual(both.byteCount, 4 * (4 * 3 * 16 * 16 + 2 * 2 * 3 * 8) + 4 * 4 * 12, "two-tower batch bytes")
        XCTAssertNil(both.textEmbeds, "captions instead of fixed text embeddings")
        XCTAssertEqual(Array(both.ids[12..<19]), [48, 38, 45, 4, 11, 49, 49],
                       "a caption: SOT, 4 words, EOT, padding")
    }

    func testStatusFieldsAreReadInKibibytes() {
        let status = "Name:\tpromptcl\nVmPeak:\t 1234 kB\nVmHWM:\t  204800 kB\nVmRSS:\t   102400 kB\nThreads:\t3\n"
        XCTAssertEqual(ResidentMemory.kibibytes("VmHWM", status: status), 204800, "the peak")
        XCTAssertEqual(ResidentMemory.kibibytes("VmRSS", status: status), 102400, "resident now")
        XCTAssertNil(ResidentMemory.kibibytes("VmSwap", status: status), "an absent field")
        XCTAssertNil(ResidentMemory.kibibytes("Threads", status: status), "a field without kB")
    }

    func testThePeakResetsToWhatIsResidentNow() throws {
        let bytes = 64 << 20
        try ResidentMemory.resetPeak()
        let before = try ResidentMemory.peakBytes()
        let block = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes)
        block.initialize(repeating: 1, count: bytes)
        let touched = try ResidentMemory.peakBytes()
        block.deallocate()
        XCTAssertGreaterThanOrEqual(touched - before, bytes - (4 << 20), "the peak grows by the block touched")
        try ResidentMemory.resetPeak()
        let after = try ResidentMemory.peakBytes()
        XCTAssertLessThan(after, touched - bytes / 2, "after the block is freed, a reset forgets it")
        XCTAssertGreaterThanOrEqual(after, try ResidentMemory.currentBytes() - (1 << 20), "the reset peak is what is resident")
    }
}
