public import Features
import ScalperCore

extension BacktestEngine {
    /// The model's reliability over the replayed bars: each scored bar's calibrated probability
    /// against its realised label by the model's own rule (``Labels/compute(_:spec:segmentStarts:tickSize:)``:
    /// the forward high, or the triple-barrier trade on the symbol's tick from
    /// ``PreparedBacktest/filters`` when known), in `bins` equal-width bins. Bars whose label
    /// horizon is not covered by consecutive bars after them are left out.
    public static func reliability(_ data: PreparedBacktest, label: LabelSpec, bins: Int = 10) -> [ReliabilityBin] {
        var sums = [(n: Int, p: Double, y: Double)](repeating: (0, 0, 0), count: bins)
        for (s, entry) in data.series.enumerated() where s < data.probabilities.count {
            let k = entry.klines
            // A gap (bars not one minute apart) starts a new segment: no label spans it.
            var starts = k.isEmpty ? [] : [0]
            for i in k.indices.dropFirst() where k[i].openTime - k[i - 1].openTime != 60_000 { starts.append(i) }
            let labels = Labels.compute(k, spec: label, segmentStarts: starts, tickSize: data.filters[entry.symbol]?.tickSize)
            for i in k.indices {
                guard let p = data.probabilities[s][i], p.isFinite, !labels[i].isNaN else { continue }
                let b = min(bins - 1, max(0, Int(p * Double(bins))))
                sums[b].n += 1
                sums[b].p += p
                sums[b].y += labels[i]
            }
        }
        return sums.enumerated().map { b, s in
            ReliabilityBin(
                lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: s.n,
                meanPredicted: s.n > 0 ? s.p / Double(s.n) : nil, realisedRate: s.n > 0 ? s.y / Double(s.n) : nil
            )
        }
    }
}
