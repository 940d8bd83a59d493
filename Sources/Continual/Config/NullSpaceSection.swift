import Distributed
import Prompting

/// `[method.nsp2]`: NSP2's null-space settings (`NullSpacePromptTuning`, `NullSpaceSettings`), used by the
/// methods `vpt-nsp2` and `clip-nsp2`; the prompts themselves are `[method.vpt]`'s. Defaults are the official
/// code's (its flag in brackets).
public struct NullSpaceSection: Codable, Equatable, Sendable {
    /// Weight of Omega1's (channel) null-space projector in P1 = eta1 B1 + (1 - eta1) I [--null_eta1].
    public var eta1 = 0.97
    /// Weight of Omega2's (prompt-token) projector in P2 [--null_eta2].
    public var eta2 = 0.97
    /// How the null space is chosen in each spectrum: "adaptive" or "adam-nscl" [--null_thres_mode].
    public var threshold = NullSpaceRule.adaptive
    /// `adaptive`: moves Omega1's / Omega2's null-space start (a fraction of the rest in [0, 1), else a count)
    /// [--null_thres_value1/2].
    public var thresholdOffset1 = 0.0
    public var thresholdOffset2 = 0.0
    /// `adam-nscl`: the null space holds singular values up to this multiple of the smallest.
    public var thresholdMultiplier = 1.0
    /// "frobenius" (B = U0^T U0 / ||U0^T U0||_F, the official code's) or "orthogonal" (B = U0^T U0).
    public var scaling = NullSpaceProjector.Scaling.frobenius
    /// Weight of L_LN [--ln_loss_lam]; 0 turns it off.
    public var lnLossWeight = 1.0
    /// L_LN's reduction over a layer's tokens: "mean" (the code's F.l1_loss) or "sum" (the paper's L1 norm).
    public var lnLossReduction = PromptStatisticsLoss.Reduction.mean
    /// How each layer's statistics are kept: "factored" (per-head QR) or "gram" (the official D x D Gram).
    public var statistics = NullSpaceStatisticsRoute.factored
    /// The distributed SVD: "qr" (PDGEQRF, then the small R on every rank; 3-6x faster in `bench nullspace`)
    /// or "svd" (PDGESVD).
    public var svdRoute = DistributedSVD.Route.qr

    public init() {}

    enum CodingKeys: String, CodingKey {
        case eta1, eta2, threshold, scaling, statistics
        case thresholdOffset1 = "threshold_offset1", thresholdOffset2 = "threshold_offset2"
        case thresholdMultiplier = "threshold_multiplier", lnLossWeight = "ln_loss_weight"
        case lnLossReduction = "ln_loss_reduction", svdRoute = "svd_route"
    }

    /// The settings `NullSpacePromptTuning` takes.
    public var settings: NullSpaceSettings {
        NullSpaceSettings(
            channelEta: eta1, tokenEta: eta2,
            channelSelection: NullSpaceSelection(rule: threshold, offset: thresholdOffset1, multiplier: thresholdMultiplier),
            tokenSelection: NullSpaceSelection(rule: threshold, offset: thresholdOffset2, multiplier: thresholdMultiplier),
            scaling: scaling, distributionLossWeight: lnLossWeight, distributionLossReduction: lnLossReduction)
    }

    func validate() throws {
        try ConfigCheck.that((0...1).contains(eta1), "method.nsp2.eta1", "must be in [0, 1], got \(eta1)")
        try ConfigCheck.that((0...1).contains(eta2), "method.nsp2.eta2", "must be in [0, 1], got \(eta2)")
        try ConfigCheck.that(thresholdOffset1.isFinite, "method.nsp2.threshold_offset1", "must be finite")
        try ConfigCheck.that(thresholdOffset2.isFinite, "method.nsp2.threshold_offset2", "must be finite")
        try ConfigCheck.that(thresholdMultiplier.isFinite && thresholdMultiplier >= 0, "method.nsp2.threshold_multiplier",
                             "must be >= 0, got \(thresholdMultiplier)")
        try ConfigCheck.that(lnLossWeight.isFinite && lnLossWeight >= 0, "method.nsp2.ln_loss_weight",
                             "must be >= 0, got \(lnLossWeight)")
    }
}
