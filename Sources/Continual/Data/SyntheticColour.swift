/// The colours of `SyntheticShapes`, as RGB values in [0, 1] before CLIP normalisation.
public enum SyntheticColour: Int, CaseIterable, Sendable {
    case red, green, blue, yellow, magenta, cyan, white, orange

    public var name: String {
        switch self {
        case .red: return "red"
        case .green: return "green"
        case .blue: return "blue"
        case .yellow: return "yellow"
        case .magenta: return "magenta"
        case .cyan: return "cyan"
        case .white: return "white"
        case .orange: return "orange"
        }
    }

    /// (r, g, b) in [0, 1].
    public var rgb: (Float, Float, Float) {
        switch self {
        case .red: return (0.90, 0.10, 0.10)
        case .green: return (0.10, 0.80, 0.15)
        case .blue: return (0.15, 0.25, 0.95)
        case .yellow: return (0.95, 0.90, 0.10)
        case .magenta: return (0.90, 0.10, 0.90)
        case .cyan: return (0.10, 0.90, 0.90)
        case .white: return (0.95, 0.95, 0.95)
        case .orange: return (1.00, 0.55, 0.05)
        }
    }
}
