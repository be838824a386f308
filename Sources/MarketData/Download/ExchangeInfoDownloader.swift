public import Binance
public import Foundation
public import ScalperCore

/// Fetches `<base>/api/v3/exchangeInfo` (Binance spot, or the local exchange) over the Binance
/// module's `MarketDataClient` and stores the filters of every symbol it lists as
/// ``BinanceMarket/spot`` filters.
///
/// One request (weight 20 on Binance) gives every symbol's filters, so the whole document is
/// stored, not just the symbols being downloaded. Filters the store has from a document as new or
/// newer are kept (``MarketStore/insert(exchangeInfo:market:source:storedAt:)``).
public struct ExchangeInfoDownloader: Sendable {
    /// The market of `/api/v3/exchangeInfo`: spot (USDⓈ-M futures have `/fapi/v1/exchangeInfo`
    /// on another host; a saved copy of it imports with `scalper data import`).
    public static let market = BinanceMarket.spot

    /// The destination.
    public let store: MarketStore
    /// The HTTP client with retries.
    public let client: RetryingClient
    /// Base URL, e.g. `https://api.binance.com` or the local exchange.
    public let baseURL: URL

    /// Creates a downloader.
    public init(store: MarketStore, client: RetryingClient, baseURL: URL) {
        self.store = store
        self.client = client
        self.baseURL = baseURL
    }

    /// The URL fetched.
    public var url: URL { binance.exchangeInfoURL }

    /// The Binance client that fetches and parses the document.
    private var binance: MarketDataClient { MarketDataClient(baseURL: baseURL, client: client) }

    /// Fetches the document and stores its filters.
    ///
    /// - Throws: ``DownloadError`` (transport, HTTP status, retries exhausted), ``ExchangeInfoError``
    ///   (a malformed document, or one whose symbols are futures symbols: nothing stored),
    ///   ``StoreError``.
    @discardableResult
    public func download(storedAt: Int64 = UTC.now()) async throws -> ExchangeInfoImportReport {
        let source = url.absoluteString
        let document = try await binance.exchangeInfo()
        let stored = try store.insert(exchangeInfo: document, market: Self.market, source: source, storedAt: storedAt)
        return ExchangeInfoImportReport(
            source: source,
            market: Self.market,
            serverTime: document.serverTime,
            symbols: document.symbols.map(\.symbol),
            skipped: document.skipped,
            stored: stored
        )
    }
}
