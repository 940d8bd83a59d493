/// The two splits of a prepared dataset: the samples tasks train on and the held-out samples they are
/// evaluated on.
public enum PreparedSplit: String, Codable, CaseIterable, Sendable {
    case train, test
}
