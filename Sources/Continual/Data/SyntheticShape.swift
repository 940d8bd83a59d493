/// The shapes of `SyntheticShapes`, each a signed distance to its outline (negative inside).
///
/// Distances are in the unit of `x`, `y` (offsets from the shape's centre, y pointing up) and `radius`
/// (the circumradius the shape fits in). They are exact near the outline, which is all anti-aliasing needs:
/// ```
/// coverage = clamp(0.5 - distance_in_pixels, 0, 1)
/// ```
/// Only +, *, abs, min, max and sqrt: bitwise the same on every IEEE 754 platform.
public enum SyntheticShape: Int, CaseIterable, Sendable {
    case circle, square, triangle, cross, ring, diamond

    public var name: String {
        switch self {
        case .circle: return "circle"
        case .square: return "square"
        case .triangle: return "triangle"
        case .cross: return "cross"
        case .ring: return "ring"
        case .diamond: return "diamond"
        }
    }

    /// Signed distance from (x, y) to the outline of this shape of circumradius `radius`.
    public func signedDistance(x: Float, y: Float, radius r: Float) -> Float {
        let ax = abs(x), ay = abs(y)
        switch self {
        case .circle:
            return (x * x + y * y).squareRoot() - r
        case .square:  // half side 0.75 r
            return max(ax, ay) - 0.75 * r
        case .triangle:  // equilateral, pointing up, centroid at the centre: inradius r / 2
            return max(-y, 0.8660254 * ax + 0.5 * y) - 0.5 * r
        case .cross:  // two bars of half length r, half width 0.3 r
            return min(max(ax - r, ay - 0.3 * r), max(ax - 0.3 * r, ay - r))
        case .ring:  // annulus between 0.5 r and r
            return abs((x * x + y * y).squareRoot() - 0.75 * r) - 0.25 * r
        case .diamond:  // |x| + |y| <= r
            return (ax + ay - r) * 0.70710678
        }
    }

    /// Fraction of the pixel at offset (x, y) pixels from the centre that the shape covers (radius in pixels).
    public func coverage(x: Float, y: Float, radius: Float) -> Float {
        min(max(0.5 - signedDistance(x: x, y: y, radius: radius), 0), 1)
    }
}
