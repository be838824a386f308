// The Binance client's types that MarketData's own API takes and returns: a downloader takes a
// `RetryingClient` (over an `HTTPFetching` transport, reporting to a `DownloadProgressReporting`)
// and throws `DownloadError`; the store takes an `ExchangeInfoDocument` and hands out its filters.
// They are re-exported so `import MarketData` is enough to call MarketData, as swift-nio's `NIO`
// re-exports `NIOCore`. Only these declarations: the rest of the Binance module (orders, streams)
// needs its own `import Binance`.
@_exported public import struct Binance.DownloadError
@_exported public import protocol Binance.DownloadProgressReporting
@_exported public import struct Binance.ExchangeInfoDocument
@_exported public import struct Binance.ExchangeInfoError
@_exported public import struct Binance.ExchangeInfoFilters
@_exported public import protocol Binance.HTTPFetching
@_exported public import struct Binance.HTTPResponse
@_exported public import struct Binance.RetryPolicy
@_exported public import struct Binance.RetryingClient
@_exported public import struct Binance.SilentProgress
@_exported public import struct Binance.SkippedSymbol
@_exported public import struct Binance.URLSessionFetcher
