/// Where a `SyntheticShapes` shape sits: one of nine cells of a 3 x 3 grid, as the caption says it.
public enum SyntheticPlacement: Int, CaseIterable, Sendable {
    case upperLeft, top, upperRight, left, centre, right, lowerLeft, bottom, lowerRight

    /// The caption's phrase: "in the upper left", "at the top", "in the centre", ...
    public var phrase: String {
        switch self {
        case .upperLeft: return "in the upper left"
        case .top: return "at the top"
        case .upperRight: return "in the upper right"
        case .left: return "on the left"
        case .centre: return "in the centre"
        case .right: return "on the right"
        case .lowerLeft: return "in the lower left"
        case .bottom: return "at the bottom"
        case .lowerRight: return "in the lower right"
        }
    }

    /// The cell's centre as fractions of the image side, (x to the right, y downwards): 0.27, 0.5 or 0.73.
    public var centre: (x: Float, y: Float) {
        let steps: [Float] = [0.27, 0.5, 0.73]
        return (steps[rawValue % 3], steps[rawValue / 3])
    }
}
