/// Everything `SyntheticShapes` draws for one sample, before rendering: what the caption says
/// (colour, shape, size, placement) and the jitter it does not (exact centre, radius, brightness, background).
public struct SyntheticSample: Equatable, Sendable {
    public var shape: SyntheticShape
    public var colour: SyntheticColour
    public var placement: SyntheticPlacement
    public var isLarge: Bool
    /// Shape centre as fractions of the image side (x to the right, y downwards): the cell centre +- 0.03.
    public var centreX: Float
    public var centreY: Float
    /// Circumradius as a fraction of the image side: 0.13 (small) or 0.21 (large), times 0.95 ... 1.05.
    public var radius: Float
    /// The shape's colour is `colour.rgb * brightness`, brightness in [0.85, 1).
    public var brightness: Float
    /// Mean grey level of the background, in [0.05, 0.17); each pixel and channel adds uniform noise in [-0.05, 0.05): values stay in [0, 1].
    public var backgroundLevel: Float
    /// Which caption template (`SyntheticShapes.caption(at:)`) words this sample.
    public var template: Int
}
