import Foundation

/// `recall.svg`: a self-contained SVG line plot of an accuracy matrix (R@1 or accuracy), one polyline per task
/// j over the evaluations after tasks j...K-1, the mean over seen tasks dashed in black, axes, ticks and a legend.
/// ```
/// x(i) = 64 + 432 * i / (K - 1)       after task i (280, the middle, when K = 1); ticks labelled i + 1
/// y(v) = 340 - 3 * v                  v in percent: 100 at the top (y 40), 0 at the bottom (y 340)
/// task j: points (x(i), y(a[i][j])) for i = j...K-1, each also a dot with a tooltip
/// ```
/// Coordinates are written with one decimal. Colours: matplotlib's tab10 and two more, repeated dashed from
/// the 13th task on.
public enum RecallPlot {
    static let plotLeft = 64.0, plotRight = 496.0, plotTop = 40.0, plotBottom = 340.0
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf", "#393b79", "#ad494a"]

    /// x(i) for the evaluation after task i of K.
    public static func x(afterTask i: Int, taskCount: Int) -> Double {
        taskCount == 1 ? (plotLeft + plotRight) / 2 : plotLeft + (plotRight - plotLeft) * Double(i) / Double(taskCount - 1)
    }

    /// y(v) for a percent v.
    public static func y(_ value: Double) -> Double { plotBottom - (plotBottom - plotTop) * value / 100 }

    /// Task j's polyline points, "x,y x,y ..." over the evaluations after tasks j...K-1.
    public static func points(_ matrix: AccuracyMatrix, task j: Int) -> String {
        (j..<matrix.taskCount).map { point(matrix, after: $0, value: matrix[after: $0, task: j]) }.joined(separator: " ")
    }

    /// The mean curve's points, "x,y ..." of `rowMeans`.
    public static func meanPoints(_ matrix: AccuracyMatrix) -> String {
        matrix.rowMeans.enumerated().map { point(matrix, after: $0, value: $1) }.joined(separator: " ")
    }

    /// The whole document; `title` above the plot, `axisLabel` along the y axis (both escaped).
    public static func svg(_ matrix: AccuracyMatrix, title: String, axisLabel: String) -> String {
        let k = matrix.taskCount
        let legendTop = plotTop + 8
        let height = height(taskCount: k)
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="\#(height)" "#
                + #"viewBox="0 0 640 \#(height)" font-family="sans-serif" font-size="12">"#,
            #"<rect width="640" height="\#(height)" fill="white"/>"#,
            #"<text x="\#(format((plotLeft + plotRight) / 2))" y="22" text-anchor="middle" font-size="14">\#(escape(title))</text>"#,
        ]
        // Axes: y ticks every 20 with grid lines, x ticks at every task (every few past 20 tasks).
        for value in stride(from: 0, through: 100, by: 20) {
            let y = format(y(Double(value)))
            lines.append(#"<line x1="\#(format(plotLeft))" y1="\#(y)" x2="\#(format(plotRight))" y2="\#(y)" stroke="gainsboro"/>"#)
            lines.append(#"<text x="\#(format(plotLeft - 6))" y="\#(y)" text-anchor="end" dominant-baseline="middle">\#(value)</text>"#)
        }
        let every = (k + 19) / 20
        for i in stride(from: 0, to: k, by: every) {
            let x = format(x(afterTask: i, taskCount: k))
            lines.append(#"<line x1="\#(x)" y1="\#(format(plotBottom))" x2="\#(x)" y2="\#(format(plotBottom + 5))" stroke="black"/>"#)
            lines.append(#"<text x="\#(x)" y="\#(format(plotBottom + 18))" text-anchor="middle">\#(i + 1)</text>"#)
        }
        lines.append(#"<path d="M\#(format(plotLeft)),\#(format(plotTop)) V\#(format(plotBottom)) H\#(format(plotRight))" "#
                     + #"fill="none" stroke="black"/>"#)
        lines.append(#"<text x="\#(format((plotLeft + plotRight) / 2))" y="\#(format(plotBottom + 38))" "#
                     + #"text-anchor="middle">after task</text>"#)
        let middle = format((plotTop + plotBottom) / 2)
        lines.append(#"<text x="18" y="\#(middle)" text-anchor="middle" transform="rotate(-90 18 \#(middle))">"#
                     + "\(escape(axisLabel))</text>")
        // One polyline and its dots per task, then the mean; the legend beside the plot.
        for j in 0..<k {
            let colour = palette[j % palette.count]
            let dash = j >= palette.count ? #" stroke-dasharray="6 3""# : ""
            lines.append(#"<polyline data-task="\#(j)" fill="none" stroke="\#(colour)" stroke-width="2"\#(dash) "#
                         + #"points="\#(points(matrix, task: j))"/>"#)
            for i in j..<k {
                let value = matrix[after: i, task: j]
                lines.append(#"<circle cx="\#(format(x(afterTask: i, taskCount: k)))" cy="\#(format(y(value)))" r="3" "#
                             + #"fill="\#(colour)"><title>task \#(j + 1) after task \#(i + 1): "#
                             + String(format: "%.2f", value) + "</title></circle>")
            }
        }
        lines.append(#"<polyline data-task="mean" fill="none" stroke="black" stroke-width="2" stroke-dasharray="4 4" "#
                     + #"points="\#(meanPoints(matrix))"/>"#)
        let legendX = plotRight + 20
        for entry in 0...k {
            let y = legendTop + 16 * Double(entry)
            let (colour, label) = entry < k ? (palette[entry % palette.count], "task \(entry + 1)") : ("black", "mean")
            let dash = entry == k ? #" stroke-dasharray="4 4""# : entry >= palette.count ? #" stroke-dasharray="6 3""# : ""
            lines.append(#"<line x1="\#(format(legendX))" y1="\#(format(y))" x2="\#(format(legendX + 24))" y2="\#(format(y))" "#
                         + #"stroke="\#(colour)" stroke-width="2"\#(dash)/>"#)
            lines.append(#"<text x="\#(format(legendX + 30))" y="\#(format(y))" dominant-baseline="middle">\#(label)</text>"#)
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func point(_ matrix: AccuracyMatrix, after i: Int, value: Double) -> String {
        "\(format(x(afterTask: i, taskCount: matrix.taskCount))),\(format(y(value)))"
    }

    private static func format(_ coordinate: Double) -> String { String(format: "%.1f", coordinate) }

    /// The document's height: 400, or more for a legend of many tasks.
    static func height(taskCount: Int) -> Int { max(400, Int(plotTop) + 8 + 16 * (taskCount + 1) + 16) }

    /// Text content or an attribute value with &, <, >, " escaped.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
