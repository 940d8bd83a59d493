extension SyntheticShapes {
    /// Number of caption templates a sample draws from (see `caption(at:)`).
    static let captionTemplateCount = 3

    /// The sample's caption, by its template, with what = "a large red circle", where = "in the upper left":
    /// ```
    /// 0: "{what} {where}"    1: "a photo of {what} {where}"    2: "{where}, {what}"
    /// ```
    public func caption(at index: Int) -> String {
        let s = sample(at: index)
        let what = "a \(s.isLarge ? "large" : "small") \(s.colour.name) \(s.shape.name)"
        switch s.template {
        case 0: return "\(what) \(s.placement.phrase)"
        case 1: return "a photo of \(what) \(s.placement.phrase)"
        default: return "\(s.placement.phrase), \(what)"
        }
    }
}
