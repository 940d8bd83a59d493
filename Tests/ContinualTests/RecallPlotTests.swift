import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Continual

/// recall.svg: the polyline points of a hand-made matrix, and a well-formed document (parsed with XMLDocument).
final class RecallPlotTests: XCTestCase {
    /// ```
    /// a = [[80], [70, 90], [60, 85, 75]], K = 3
    /// x(i) = 64 + 432 i / 2:  64, 280, 496
    /// y(v) = 340 - 3 v:       y(80) 100, y(70) 130, y(60) 160, y(90) 70, y(85) 85, y(75) 115
    /// task 0: (64,100) (280,130) (496,160);  task 1: (280,70) (496,85);  task 2: (496,115)
    /// mean:   80, 80, 73.333 -> (64,100) (280,100) (496,120)
    /// ```
    func testPolylinePointsOfAHandMadeMatrix() throws {
        let a = try AccuracyMatrix(rows: [[80], [70, 90], [60, 85, 75]])
        XCTAssertEqual(RecallPlot.points(a, task: 0), "64.0,100.0 280.0,130.0 496.0,160.0", "task 0 from after task 0")
        XCTAssertEqual(RecallPlot.points(a, task: 1), "280.0,70.0 496.0,85.0", "task 1 from after task 1")
        XCTAssertEqual(RecallPlot.points(a, task: 2), "496.0,115.0", "task 2: one point")
        XCTAssertEqual(RecallPlot.meanPoints(a), "64.0,100.0 280.0,100.0 496.0,120.0", "the mean curve")
        XCTAssertEqual(RecallPlot.x(afterTask: 0, taskCount: 1), 280, "one task: the middle")
        XCTAssertEqual(RecallPlot.y(0), 340, "0 % at the bottom")
        XCTAssertEqual(RecallPlot.y(100), 40, "100 % at the top")
    }

    func testDocumentIsWellFormedWithAxesAndLegend() throws {
        let a = try AccuracyMatrix(rows: [[80], [70, 90], [60, 85, 75]])
        let text = RecallPlot.svg(a, title: "lpi-m & <friends> on \"coco\"", axisLabel: EvaluationKind.retrieval.scoreLabel)
        let document = try XMLDocument(xmlString: text, options: [])
        let root = try XCTUnwrap(document.rootElement(), "a root element")
        XCTAssertEqual(root.name, "svg", "root")
        XCTAssertEqual(root.value("width"), "640", "width")
        func elements(_ name: String) throws -> [XMLElement] {
            try document.nodes(forXPath: "//*[local-name()='\(name)']").compactMap { $0 as? XMLElement }
        }
        let polylines = try elements("polyline")
        XCTAssertEqual(polylines.compactMap { $0.value("data-task") }, ["0", "1", "2", "mean"],
                       "one polyline per task and the mean")
        XCTAssertEqual(polylines.compactMap { $0.value("points") },
                       [RecallPlot.points(a, task: 0), RecallPlot.points(a, task: 1), RecallPlot.points(a, task: 2),
                        RecallPlot.meanPoints(a)], "their points")
        XCTAssertEqual(Set(polylines.prefix(3).compactMap { $0.value("stroke") }).count, 3,
                       "three colours")
        XCTAssertEqual(try elements("circle").count, 6, "a dot per matrix entry")
        let texts = try elements("text").compactMap(\.stringValue)
        XCTAssertTrue(texts.contains("lpi-m & <friends> on \"coco\""), "title, escaped in the file: \(texts)")
        XCTAssertTrue(text.contains("lpi-m &amp; &lt;friends&gt; on &quot;coco&quot;"), "escaped source")
        for label in ["0", "20", "40", "60", "80", "100"] { XCTAssertTrue(texts.contains(label), "y tick \(label)") }
        for label in ["1", "2", "3"] { XCTAssertTrue(texts.contains(label), "x tick \(label)") }
        for label in ["task 1", "task 2", "task 3", "mean", "after task", EvaluationKind.retrieval.scoreLabel] {
            XCTAssertTrue(texts.contains(label), "label \(label) in \(texts)")
        }
        let titles = try elements("title").compactMap(\.stringValue)
        XCTAssertTrue(titles.contains("task 1 after task 3: 60.00"), "tooltips: \(titles)")
    }

    /// 14 tasks: colours repeat dashed past the 12th, the document grows to hold the legend, x ticks stay at
    /// every task (under 20).
    func testManyTasksRepeatColoursDashedAndGrowTheLegend() throws {
        let rows = (0..<14).map { i in (0...i).map { j in Double(50 + j) } }
        let text = RecallPlot.svg(try AccuracyMatrix(rows: rows), title: "t", axisLabel: "accuracy")
        let document = try XMLDocument(xmlString: text, options: [])
        let lines = try document.nodes(forXPath: "//*[local-name()='polyline']").compactMap { $0 as? XMLElement }
        XCTAssertEqual(lines.count, 15, "14 tasks and the mean")
        XCTAssertNil(lines[11].value("stroke-dasharray"), "task 12 solid")
        XCTAssertEqual(lines[12].value("stroke-dasharray"), "6 3", "task 13 dashed")
        XCTAssertEqual(lines[12].value("stroke"), lines[0].value("stroke"),
                       "task 13 takes task 1's colour")
        // legend: top 48, 16 per entry for 15 entries, 16 below: 48 + 240 + 16 = 304 < 400; stays 400.
        XCTAssertEqual(document.rootElement()?.value("height"), "400", "height")
        let big = RecallPlot.svg(try AccuracyMatrix(rows: (0..<30).map { i in Array(repeating: 10, count: i + 1) }),
                                 title: "t", axisLabel: "a")
        // 48 + 16 * 31 + 16 = 560; x ticks every 2nd task past 20 tasks: 1, 3, ..., 29.
        let bigDocument = try XMLDocument(xmlString: big, options: [])
        XCTAssertEqual(bigDocument.rootElement()?.value("height"), "560", "grown height")
        let ticks = try bigDocument.nodes(forXPath: "//*[local-name()='text'][@text-anchor='middle']").compactMap(\.stringValue)
        XCTAssertTrue(ticks.contains("29") && !ticks.contains("30"), "every second task labelled: \(ticks)")
    }
}

private extension XMLElement {
    /// The attribute's value (`attribute(forName:)` finds nothing on Linux's Foundation once the document has a
    /// default namespace).
    func value(_ name: String) -> String? { attributes?.first { $0.name == name }?.stringValue }
}
