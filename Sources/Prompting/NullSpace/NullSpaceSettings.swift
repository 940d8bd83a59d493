/// NSP2's choices (DESIGN.md, "Null space"); every default is the official code's.
///
/// ```
/// P1 = eta1 B1 + (1 - eta1) I   from Omega1 (channels, D x D), null space by `channelSelection`
/// P2 = eta2 B2 + (1 - eta2) I   from Omega2 (prompt tokens, L x L), null space by `tokenSelection`
/// loss += distributionLossWeight * L_LN        from the second task on
/// ```
public struct NullSpaceSettings: Sendable, Equatable {
    /// eta1: the weight of Omega1's null-space projector (`--null_eta1`; 0.97 for VPT on 10-split CIFAR-100).
    public var channelEta: Double
    /// eta2: Omega2's (`--null_eta2`).
    public var tokenEta: Double
    public var channelSelection: NullSpaceSelection
    public var tokenSelection: NullSpaceSelection
    public var scaling: NullSpaceProjector.Scaling
    /// `--ln_loss_lam`, and how each layer's L1 is reduced over its tokens.
    public var distributionLossWeight: Double
    public var distributionLossReduction: PromptStatisticsLoss.Reduction

    public init(channelEta: Double = 0.97, tokenEta: Double = 0.97,
                channelSelection: NullSpaceSelection = NullSpaceSelection(),
                tokenSelection: NullSpaceSelection = NullSpaceSelection(),
                scaling: NullSpaceProjector.Scaling = .frobenius, distributionLossWeight: Double = 1,
                distributionLossReduction: PromptStatisticsLoss.Reduction = .mean) {
        self.channelEta = channelEta
        self.tokenEta = tokenEta
        self.channelSelection = channelSelection
        self.tokenSelection = tokenSelection
        self.scaling = scaling
        self.distributionLossWeight = distributionLossWeight
        self.distributionLossReduction = distributionLossReduction
    }
}
