/// The text tower's shape: token and position embeddings, a causal encoder, pooling at the end-of-text token.
///
/// The token ids are as the config file states them. Some of OpenAI's checkpoints on the hub
/// (clip-vit-large-patch14) were saved with legacy ids (bos 0, eos 2) in `text_config`; the tokenizer's
/// real ones are 49406 and 49407, and the pooled position is that of the highest id in the sequence either way.
public struct CLIPTextConfig: Equatable, Sendable {
    public var encoder: CLIPEncoderConfig
    /// Rows of the token embedding (`vocab_size`).
    public var vocabularySize: Int
    /// Tokens per sequence, rows of the position embedding (`max_position_embeddings`), 77 for CLIP.
    public var contextLength: Int
    /// Start-of-text id (`bos_token_id`).
    public var bosTokenID: Int
    /// End-of-text id (`eos_token_id`).
    public var eosTokenID: Int
    /// Padding id (`pad_token_id`).
    public var padTokenID: Int

    public init(encoder: CLIPEncoderConfig, vocabularySize: Int, contextLength: Int,
                bosTokenID: Int, eosTokenID: Int, padTokenID: Int) {
        self.encoder = encoder
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
    }
}
