public import ScalperCore
public import Trading

extension PreparedBacktest {
    /// Bars and predictions made elsewhere than ``BacktestEngine/prepare(series:predictor:interval:minimumProbability:tradableFrom:warmupBars:)``
    /// (research on predictions of another origin, tests): `predictions[s][i]` belongs to bar `i` of
    /// symbol `s`, nil where nothing is predicted; every given prediction also counts as a scored
    /// probability for the reliability.
    public init(series: [(symbol: String, klines: [Kline])], predictions: [[Prediction?]], filters: [String: SymbolFilters] = [:]) {
        precondition(series.count == predictions.count && zip(series, predictions).allSatisfy { $0.klines.count == $1.count }, "one prediction slot per bar")
        self.init(series: series, predictions: predictions, timings: [:], warmupNotes: [])
        self.probabilities = predictions.map { $0.map { $0?.probabilityUp } }
        self.filters = filters
    }
}
