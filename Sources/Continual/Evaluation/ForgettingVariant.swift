/// Which sign forgetting is reported with, after the last task K-1 over the accuracy matrix a (`AccuracyMatrix`):
/// ```
/// positive   F = mean_{j < K-1} ( max_{j <= i < K-1} a[i][j] - a[K-1][j] )     (Chaudhry et al. 2018; default)
/// signed     F = mean_{j < K-1} ( a[K-1][j] - max_{j <= i < K-1} a[i][j] )     (LPI's official code: <= 0 when it forgets)
/// ```
/// The two are the same number with opposite signs; neither is clamped, so a task that ends above its best
/// earlier score (backward transfer) lowers the positive variant.
public enum ForgettingVariant: String, Codable, Sendable, CaseIterable {
    case positive, signed
}
