public import Binance
public import Foundation
public import ScalperCore

/// What importing or downloading one exchangeInfo document did.
public struct ExchangeInfoImportReport: Equatable, Sendable {
    /// The file or URL.
    public var source: String
    /// The market the filters were stored for.
    public var market: BinanceMarket
    /// The document's `serverTime` (ms).
    public var serverTime: Int64
    /// The symbols whose filters the document gives, in document order.
    public var symbols: [String]
    /// Symbols whose filters could not be used, with the reason.
    public var skipped: [SkippedSymbol]
    /// What the store did with them.
    public var stored: ExchangeInfoStoreResult

    /// Creates a report.
    public init(
        source: String,
        market: BinanceMarket,
        serverTime: Int64,
        symbols: [String],
        skipped: [SkippedSymbol],
        stored: ExchangeInfoStoreResult
    ) {
        self.source = source
        self.market = market
        self.serverTime = serverTime
        self.symbols = symbols
        self.skipped = skipped
        self.stored = stored
    }
}

/// Imports a saved exchangeInfo document (`scalper data import exchangeInfo.json`).
public struct ExchangeInfoImporter: Sendable {
    /// The destination.
    public let store: MarketStore
    /// `--market`: the market of a document whose symbols show none (see
    /// ``ExchangeInfoDocument/market(option:path:source:)``).
    public let market: BinanceMarket?

    /// Creates an importer.
    public init(store: MarketStore, market: BinanceMarket? = nil) {
        self.store = store
        self.market = market
    }

    /// Parses `url` and stores its filters; nothing is stored from a document with a bad field.
    ///
    /// - Throws: ``ExchangeInfoError`` (unreadable, malformed, or no market), ``StoreError``.
    @discardableResult
    public func importFile(_ url: URL, storedAt: Int64 = UTC.now()) throws -> ExchangeInfoImportReport {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ExchangeInfoError(source: url.path, message: "cannot read file: \(error.localizedDescription)")
        }
        let document = try ExchangeInfoDocument.parse(data, source: url.path)
        let market = try document.market(option: market, path: url.path, source: url.path)
        let stored = try store.insert(exchangeInfo: document, market: market, source: url.path, storedAt: storedAt)
        return ExchangeInfoImportReport(
            source: url.path,
            market: market,
            serverTime: document.serverTime,
            symbols: document.symbols.map(\.symbol),
            skipped: document.skipped,
            stored: stored
        )
    }
}
