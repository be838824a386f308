/// Where backtest runs are recorded and read back: the SQLite ``RunDatabase`` of one machine, or a
/// shared database every machine reaches (PostgresRuns' `PostgresRunDatabase`). Both hold the same
/// tables, so `scalper runs` prints the same whichever it reads.
///
/// A run is its rows (parameters, metrics, trades, grade) plus the files of its folder
/// (`config.json`, `metrics.csv`, `trades.csv`, `summary.txt`, `equity.svg`, `report.html`), which
/// `runs export-manifest` and `export-notebook` read.
public protocol RunStore: Sendable {
    /// Records run `config` with `result` and its folder's `files` (name → bytes), unless a run
    /// with the same id is already recorded: then nothing is stored and the answer is `false`.
    ///
    /// Keyed on `config.id`, so recording again (a retried job) never writes a second run.
    /// Non-finite metrics are stored as `NULL` and read back as NaN.
    /// - Throws: ``RunDatabaseError/badFileName(_:)`` for a name that is not a plain file name.
    func record(config: BacktestRunConfig, result: BacktestResult, files: [String: [UInt8]]) async throws -> Bool

    /// Stores `grade` as the grade of run `id`, replacing any earlier one.
    /// - Throws: ``RunDatabaseError/noSuchRun(_:)`` when no run `id` is recorded.
    func record(grade: RunGrade, forRun id: String) async throws

    /// Each trade's net P&L (quote currency) and net return (percent) of run `id`, in order.
    func tradePnL(run id: String) async throws -> [(pnlUSDT: Double, pnlPct: Double)]

    /// Every run, newest first (by creation time, then id, compared byte by byte).
    func runs() async throws -> [RunSummary]

    /// One run, or nil.
    func run(_ id: String) async throws -> RunSummary?

    /// The files of run `id`'s folder (name → bytes); empty when none are stored.
    func files(ofRun id: String) async throws -> [String: [UInt8]]
}
