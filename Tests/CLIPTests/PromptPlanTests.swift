import Foundation
import XCTest
import CLIP

/// PromptPlan's bookkeeping of the block: counts per layer with MPL's remove-then-insert, the plans it refuses,
/// and the JSON form (`removed` written only when not 0, read as 0 when absent).
final class PromptPlanTests: XCTestCase {
    func testRemoveThenInsertCountsAsMPL() throws {
        // n_ctx 1, add 2, remove 1 at layers 1 ..< 4: c_l = 1 + l (2 - 1); carried unchanged above the depth.
        let sites = [PromptPlan.Site(layer: 0, tokens: 1, mode: .insert)]
            + (1..<4).map { PromptPlan.Site(layer: $0, tokens: 2, mode: .insert, removed: 1) }
        let plan = try PromptPlan(sites: sites, placement: .afterPatches, layers: 6)
        XCTAssertEqual(plan.promptCounts(layers: 6), [1, 2, 3, 4, 4, 4], "each deeper layer: -1 + 2")
        XCTAssertEqual(plan.tokensAtFirstLayer, 1)
    }

    func testRefusesRemovingMoreThanTheBlockOrOutsideAnInsert() {
        let first = PromptPlan.Site(layer: 0, tokens: 2, mode: .insert)
        let refused: [(String, [PromptPlan.Site])] = [
            ("more than the block", [first, .init(layer: 1, tokens: 2, mode: .insert, removed: 3)]),
            ("at layer 0 (no block yet)", [.init(layer: 0, tokens: 2, mode: .insert, removed: 1)]),
            ("negative", [first, .init(layer: 1, tokens: 2, mode: .insert, removed: -1)]),
            ("with replace", [first, .init(layer: 1, tokens: 2, mode: .replace, removed: 1)]),
            ("with add", [first, .init(layer: 1, tokens: 2, mode: .add, removed: 1)]),
            ("a replace that does not fit the smaller block",
             [first, .init(layer: 1, tokens: 1, mode: .insert, removed: 2), .init(layer: 2, tokens: 2, mode: .replace)]),
        ]
        for (what, sites) in refused {
            XCTAssertThrowsError(try PromptPlan(sites: sites, layers: 3), "removing \(what) must be refused")
        }
        XCTAssertNoThrow(try PromptPlan(sites: [first, .init(layer: 1, tokens: 1, mode: .insert, removed: 2),
                                                .init(layer: 2, tokens: 1, mode: .replace)], layers: 3),
                         "the whole block removed, then the new one replaced")
    }

    func testJSONWritesRemovedOnlyWhenSetAndReadsItAsZeroWhenAbsent() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let plain = String(decoding: try encoder.encode(PromptPlan.Site(layer: 1, tokens: 2, mode: .replace)), as: UTF8.self)
        XCTAssertEqual(plain, #"{"layer":1,"mode":"replace","tokens":2}"#, "plans without removal keep their JSON")
        let removing = PromptPlan.Site(layer: 1, tokens: 2, mode: .insert, removed: 1)
        let json = try encoder.encode(removing)
        XCTAssertEqual(String(decoding: json, as: UTF8.self), #"{"layer":1,"mode":"insert","removed":1,"tokens":2}"#)
        XCTAssertEqual(try JSONDecoder().decode(PromptPlan.Site.self, from: json), removing)
        let old = try JSONDecoder().decode(PromptPlan.Site.self, from: Data(#"{"layer":0,"tokens":3,"mode":"insert"}"#.utf8))
        XCTAssertEqual(old, PromptPlan.Site(layer: 0, tokens: 3, mode: .insert), "no \"removed\": 0")
    }
}
