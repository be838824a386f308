public import Model
public import Trading

extension SignalConfiguration {
    /// The signal settings a model trades with: `min_probability: model` becomes the threshold
    /// chosen on that model's validation rows when it was trained
    /// (``ModelMetadata/validatedSignalThreshold``; `model.threshold` for a bundle without one);
    /// a number is kept as it is.
    ///
    /// The one place the choice is resolved: every command that builds signal settings for a
    /// model (backtest, paper, walk-forward, the retrain's holdout replays) calls this, so the
    /// settings it records and trades with hold the number, not the word.
    public func resolved(for metadata: ModelMetadata) -> SignalConfiguration {
        guard minProbabilityFromModel else { return self }
        var copy = self
        copy.minProbability = metadata.validatedSignalThreshold
        copy.minProbabilityFromModel = false
        return copy
    }
}
