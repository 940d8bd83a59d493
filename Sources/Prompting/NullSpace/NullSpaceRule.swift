/// How NSP2 decides which singular values count as zero (`NullSpaceSelection`): the names configs use.
///
/// `adaptive` is the official code's default (`--null_thres_mode adaptive`): the elbow of the spectrum, found
/// as the largest second difference. `adam-nscl` is its other mode (`--null_thres_mode times`), the rule of
/// Adam-NSCL (Wang et al., CVPR 2021): every singular value within `multiplier` times the smallest.
public enum NullSpaceRule: String, Codable, Sendable, CaseIterable {
    case adaptive
    case adamNSCL = "adam-nscl"
}
