public import Foundation
public import ScalperCore

/// One symbol's trading filters exactly as Binance's exchangeInfo writes them: decimal text, never
/// a `Double`, so the store keeps `"0.00001000"` as Binance sent it.
///
/// Every value is checked on creation: decimal text (`"5"`, `"0.01000000"`), and a tick and a step
/// above zero (Binance writes 0 for a disabled rule, which leaves nothing to round to). So
/// ``symbolFilters`` always has usable values.
public struct ExchangeInfoFilters: Equatable, Sendable {
    /// Which exchangeInfo filter gave the minimum notional.
    public enum NotionalFilter: String, Sendable, Equatable, CaseIterable {
        /// `NOTIONAL` (`minNotional`, `maxNotional`): spot since 2023.
        case notional = "NOTIONAL"
        /// `MIN_NOTIONAL`: spot before 2023 (`minNotional`) and USDⓈ-M futures (`notional`).
        case minNotional = "MIN_NOTIONAL"
    }

    /// A value that is not usable: which field, its text, and why.
    public struct InvalidField: Error, Sendable, Equatable, CustomStringConvertible {
        /// The exchangeInfo field name (`tickSize`, `stepSize`, …).
        public var field: String
        /// The text found.
        public var value: String
        /// Why it is refused.
        public var reason: String

        /// Creates the error (the store raises it for a row it cannot read back).
        public init(field: String, value: String, reason: String) {
            self.field = field
            self.value = value
            self.reason = reason
        }

        /// `tickSize '0.0x': reason`.
        public var description: String { "\(field) '\(value)': \(reason)" }
    }

    /// The symbol, e.g. `BTCUSDT`.
    public let symbol: String
    /// PRICE_FILTER `tickSize`.
    public let tickSize: String
    /// LOT_SIZE `stepSize`.
    public let stepSize: String
    /// LOT_SIZE `minQty`.
    public let minQty: String
    /// LOT_SIZE `maxQty`.
    public let maxQty: String
    /// NOTIONAL `minNotional`, MIN_NOTIONAL `minNotional` (old spot) or `notional` (futures).
    public let minNotional: String
    /// NOTIONAL `maxNotional`; MIN_NOTIONAL has none.
    public let maxNotional: String?
    /// The filter `minNotional` came from.
    public let notionalFilter: NotionalFilter

    /// Creates filters from exchangeInfo text, checking every value.
    ///
    /// - Throws: ``InvalidField`` naming the first field that is not decimal text, or a tick or
    ///   step of zero.
    public init(
        symbol: String,
        tickSize: String,
        stepSize: String,
        minQty: String,
        maxQty: String,
        minNotional: String,
        maxNotional: String?,
        notionalFilter: NotionalFilter
    ) throws(InvalidField) {
        var fields = [
            ("tickSize", tickSize), ("stepSize", stepSize), ("minQty", minQty), ("maxQty", maxQty),
            ("minNotional", minNotional),
        ]
        if let maxNotional { fields.append(("maxNotional", maxNotional)) }
        for (name, text) in fields where !Self.isDecimalText(text) {
            throw InvalidField(field: name, value: text, reason: "not decimal text such as \"0.01000000\"")
        }
        for (name, text) in [("tickSize", tickSize), ("stepSize", stepSize)] where Self.isZero(text) {
            throw InvalidField(
                field: name,
                value: text,
                reason: "is zero (Binance's 'rule disabled'): nothing to round to"
            )
        }
        self.symbol = symbol
        self.tickSize = tickSize
        self.stepSize = stepSize
        self.minQty = minQty
        self.maxQty = maxQty
        self.minNotional = minNotional
        self.maxNotional = maxNotional
        self.notionalFilter = notionalFilter
    }

    /// The filters as the trading code uses them. The text was checked on creation, so every
    /// conversion succeeds; `Double("0.01000000")` is the same `Double` as the literal `0.01`.
    public var symbolFilters: SymbolFilters {
        SymbolFilters(lotStep: Double(stepSize)!, tickSize: Double(tickSize)!, minNotional: Double(minNotional)!)
    }

    /// Whether `text` is plain decimal text: digits, optionally a point and more digits.
    public static func isDecimalText(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        var i = 0
        while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        guard i > 0 else { return false }
        if i == bytes.count { return true }
        guard bytes[i] == 46 else { return false }
        i += 1
        let fraction = i
        while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        return i == bytes.count && i > fraction
    }

    /// Whether decimal text is zero (`"0"`, `"0.00000000"`).
    static func isZero(_ text: String) -> Bool { text.utf8.allSatisfy { $0 == 48 || $0 == 46 } }
}

/// A symbol of an exchangeInfo document whose filters could not be kept, and why.
public struct SkippedSymbol: Equatable, Sendable, CustomStringConvertible {
    /// The symbol.
    public var symbol: String
    /// Why (e.g. a PRICE_FILTER tick of zero: the rule is disabled).
    public var reason: String

    /// `SYMBOL: reason`.
    public var description: String { "\(symbol): \(reason)" }
}

/// An exchangeInfo document that cannot be read, naming its source and the field at fault.
public struct ExchangeInfoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or URL.
    public var source: String
    /// The field's path in the document (`symbols[2].filters[0].tickSize`), when one field is to blame.
    public var field: String?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(source: String, field: String? = nil, message: String) {
        self.source = source
        self.field = field
        self.message = message
    }

    /// `source: field: message`.
    public var description: String {
        if let field { return "\(source): \(field): \(message)" }
        return "\(source): \(message)"
    }
}

/// The filters of a Binance exchangeInfo document (spot `/api/v3/exchangeInfo` or USDⓈ-M futures
/// `/fapi/v1/exchangeInfo`), as decimal text, with the document's `serverTime`.
public struct ExchangeInfoDocument: Equatable, Sendable {
    /// The document's `serverTime` (ms): when Binance served it. The store keeps a symbol's
    /// filters from the newest document.
    public var serverTime: Int64
    /// The market the symbols' fields show: futures symbols carry `contractType`, spot symbols
    /// `isSpotTradingAllowed` or `permissions`; `nil` when no symbol carries either.
    public var marketOfSymbols: BinanceMarket?
    /// The filters of every usable symbol, in document order.
    public var symbols: [ExchangeInfoFilters]
    /// Symbols whose filters cannot be used (a disabled tick or step), with the reason.
    public var skipped: [SkippedSymbol]

    /// Parses an exchangeInfo document.
    ///
    /// Each symbol needs PRICE_FILTER `tickSize`, LOT_SIZE `stepSize`, `minQty` and `maxQty`, and a
    /// minimum notional: NOTIONAL `minNotional` (spot today; its `maxNotional` is kept too), else
    /// MIN_NOTIONAL `minNotional` (spot before 2023) or `notional` (USDⓈ-M futures). Values must be
    /// JSON strings of decimal text, as Binance sends them. Other fields and filters are ignored.
    ///
    /// - Throws: ``ExchangeInfoError`` naming the field's path for the first field that is missing
    ///   or malformed; nothing is returned from a document with any such field.
    public static func parse(_ data: Data, source: String) throws(ExchangeInfoError) -> ExchangeInfoDocument {
        func fail(_ field: String?, _ message: String) -> ExchangeInfoError {
            ExchangeInfoError(source: source, field: field, message: message)
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw fail(nil, "not JSON: \(error.localizedDescription)")
        }
        guard let top = json as? [String: Any] else {
            throw fail(nil, "expected a JSON object (Binance's exchangeInfo), found \(kind(of: json))")
        }
        if let code = top["code"], let message = top["msg"] as? String {
            throw fail(nil, "Binance answered error \(code): \(message) (not an exchangeInfo document)")
        }
        guard let timeValue = top["serverTime"] else {
            throw fail("serverTime", "missing (the document's time; the store keeps the newest filters by it)")
        }
        guard !(timeValue is String), let timeNumber = timeValue as? NSNumber,
            timeNumber.doubleValue == timeNumber.doubleValue.rounded(), timeNumber.doubleValue > 0
        else {
            throw fail("serverTime", "expected epoch milliseconds as a JSON number, found \(kind(of: timeValue))")
        }
        guard let symbolsValue = top["symbols"] else { throw fail("symbols", "missing") }
        guard let symbols = symbolsValue as? [Any] else {
            throw fail("symbols", "expected an array of symbols, found \(kind(of: symbolsValue))")
        }

        var document = ExchangeInfoDocument(
            serverTime: timeNumber.int64Value,
            marketOfSymbols: nil,
            symbols: [],
            skipped: []
        )
        var seen: [String: Int] = [:]
        var markets: [BinanceMarket: String] = [:]
        for (i, element) in symbols.enumerated() {
            let path = "symbols[\(i)]"
            guard let entry = element as? [String: Any] else {
                throw fail(path, "expected a symbol object, found \(kind(of: element))")
            }
            guard let symbol = entry["symbol"] as? String, !symbol.isEmpty else {
                throw fail("\(path).symbol", "expected the symbol's name as text, found \(kind(of: entry["symbol"]))")
            }
            if let first = seen[symbol] {
                throw fail("\(path).symbol", "\(symbol) is listed twice (first at symbols[\(first)])")
            }
            seen[symbol] = i
            if entry["contractSize"] != nil {
                throw fail(
                    "\(path).contractSize",
                    "\(symbol) is a COIN-M futures contract (/dapi/v1/exchangeInfo); the store holds spot and futures-um"
                )
            }
            if entry["contractType"] != nil {
                markets[.futuresUM] = markets[.futuresUM] ?? symbol
            } else if entry["isSpotTradingAllowed"] != nil || entry["permissions"] != nil
                || entry["permissionSets"] != nil
            {
                markets[.spot] = markets[.spot] ?? symbol
            }
            guard let filtersValue = entry["filters"] else { throw fail("\(path).filters", "\(symbol) has no filters") }
            guard let filters = filtersValue as? [Any] else {
                throw fail("\(path).filters", "expected an array of filters, found \(kind(of: filtersValue))")
            }
            var byType: [String: (index: Int, fields: [String: Any])] = [:]
            for (k, f) in filters.enumerated() {
                guard let fields = f as? [String: Any], let type = fields["filterType"] as? String else {
                    throw fail(
                        "\(path).filters[\(k)].filterType",
                        "\(symbol): expected a filter object with a filterType"
                    )
                }
                if byType[type] == nil { byType[type] = (k, fields) }
            }
            func text(_ type: String, _ name: String, optional: Bool = false) throws(ExchangeInfoError) -> String? {
                guard let (k, fields) = byType[type] else {
                    throw fail("\(path).filters", "\(symbol) has no \(type) filter")
                }
                let field = "\(path).filters[\(k)].\(name)"
                guard let value = fields[name] else {
                    if optional { return nil }
                    throw fail(field, "\(symbol) \(type) has no \(name)")
                }
                guard let string = value as? String else {
                    throw fail(
                        field,
                        "\(symbol) \(type) \(name): expected decimal text such as \"0.01000000\", found \(kind(of: value))"
                    )
                }
                guard ExchangeInfoFilters.isDecimalText(string) else {
                    throw fail(
                        field,
                        "\(symbol) \(type) \(name): '\(string)' is not decimal text such as \"0.01000000\""
                    )
                }
                return string
            }
            // Non-nil: `text` returns nil only for optional fields.
            let tickSize = try text("PRICE_FILTER", "tickSize")!
            let stepSize = try text("LOT_SIZE", "stepSize")!
            let minQty = try text("LOT_SIZE", "minQty")!
            let maxQty = try text("LOT_SIZE", "maxQty")!
            let minNotional: String
            let maxNotional: String?
            let notionalFilter: ExchangeInfoFilters.NotionalFilter
            if byType["NOTIONAL"] != nil {
                minNotional = try text("NOTIONAL", "minNotional")!
                maxNotional = try text("NOTIONAL", "maxNotional", optional: true)
                notionalFilter = .notional
            } else if let (k, fields) = byType["MIN_NOTIONAL"] {
                // Spot wrote minNotional; USDⓈ-M futures write notional.
                let name = fields["minNotional"] != nil || fields["notional"] == nil ? "minNotional" : "notional"
                guard fields[name] != nil else {
                    throw fail("\(path).filters[\(k)]", "\(symbol) MIN_NOTIONAL has neither minNotional nor notional")
                }
                minNotional = try text("MIN_NOTIONAL", name)!
                maxNotional = nil
                notionalFilter = .minNotional
            } else {
                throw fail("\(path).filters", "\(symbol) has no NOTIONAL or MIN_NOTIONAL filter")
            }
            do {
                document.symbols.append(
                    try ExchangeInfoFilters(
                        symbol: symbol,
                        tickSize: tickSize,
                        stepSize: stepSize,
                        minQty: minQty,
                        maxQty: maxQty,
                        minNotional: minNotional,
                        maxNotional: maxNotional,
                        notionalFilter: notionalFilter
                    )
                )
            } catch {
                // The text was checked above, so only a disabled (zero) tick or step lands here:
                // that symbol has no usable filter, the others do.
                document.skipped.append(SkippedSymbol(symbol: symbol, reason: "\(error)"))
            }
        }
        if let spot = markets[.spot], let futures = markets[.futuresUM] {
            throw fail(
                "symbols",
                "mixes markets: \(futures) carries contractType (futures) but \(spot) carries spot fields"
            )
        }
        document.marketOfSymbols = markets.keys.first
        return document
    }

    /// The market to store the document's filters for: the one its symbols show; else `option`
    /// (`--market`); else the one the folders of `path` name (``BinanceMarket/named(inPath:)``).
    ///
    /// - Throws: ``ExchangeInfoError`` when `option` contradicts the symbols, or nothing names a market.
    public func market(option: BinanceMarket?, path: String, source: String) throws(ExchangeInfoError) -> BinanceMarket
    {
        if let shown = marketOfSymbols {
            if let option, option != shown {
                throw ExchangeInfoError(
                    source: source,
                    message: "the market is \(option) but its symbols are \(shown) symbols"
                        + (shown == .futuresUM ? " (they carry contractType)" : " (they carry spot fields)")
                )
            }
            return shown
        }
        if let market = option ?? BinanceMarket.named(inPath: path) { return market }
        throw ExchangeInfoError(
            source: source,
            message:
                "cannot tell its market (no symbol carries contractType or spot fields, and its folders name none): give --market spot or futures-um"
        )
    }
}

/// A short description of a JSON value's kind, for error messages.
private func kind(of value: Any?) -> String {
    switch value {
    case nil: "nothing"
    case is NSNull: "null"
    case let s as String: "the text \"\(s.prefix(40))\""
    case let n as NSNumber: "the number \(n)"
    case is [Any]: "an array"
    case is [String: Any]: "an object"
    default: "\(type(of: value))"
    }
}
