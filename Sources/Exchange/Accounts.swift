public import Binance
public import Foundation
import Synchronization

/// The accounts of the local exchange: API keys (HMAC secrets or Ed25519 public keys) and starting
/// balances, read from a JSON file given at start:
///
///     {"accounts": [{"apiKey": "…", "secret": "…", "balances": {"USDT": "10000"}},
///                   {"apiKey": "…", "ed25519PublicKey": "-----BEGIN PUBLIC KEY-----…", "balances": {…}}]}
///
/// Balances are kept as exact decimal text as given until trading changes them.
public final class ExchangeAccounts: Sendable {
    /// One account.
    public struct Account: Sendable {
        /// Its API key.
        public var apiKey: String
        /// The key that checks its signatures.
        public var verifier: VerificationKey
        /// Free balance per asset.
        public var free: [String: Decimal]
        /// Locked balance per asset (in open orders).
        public var locked: [String: Decimal]

        /// An account with free balances.
        public init(apiKey: String, verifier: VerificationKey, free: [String: Decimal]) {
            self.apiKey = apiKey
            self.verifier = verifier
            self.free = free
            locked = [:]
        }
    }

    private let accounts: Mutex<[String: Account]>

    /// Accounts from `accounts`.
    public init(_ accounts: [Account]) {
        self.accounts = Mutex(Dictionary(accounts.map { ($0.apiKey, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    /// No accounts (market data only).
    public static let none = ExchangeAccounts([])

    /// The accounts of the file at `path`; errors name the file and the entry.
    public static func load(path: String) throws -> ExchangeAccounts {
        guard let data = FileManager.default.contents(atPath: path) else { throw AccountsError("\(path): cannot be read") }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let list = root["accounts"] as? [[String: Any]] else {
            throw AccountsError("\(path): not a JSON object with an \"accounts\" list")
        }
        var out: [Account] = []
        for (i, entry) in list.enumerated() {
            let place = "\(path): accounts[\(i)]"
            guard let key = entry["apiKey"] as? String, !key.isEmpty else { throw AccountsError("\(place).apiKey: missing or empty") }
            let verifier: VerificationKey
            if let secret = entry["secret"] as? String, !secret.isEmpty {
                verifier = .hmac(secret: secret)
            } else if let pem = entry["ed25519PublicKey"] as? String {
                do {
                    verifier = try pem.hasPrefix("-----") ? .ed25519(publicPEM: pem) : .ed25519(publicKeyHex: pem)
                } catch {
                    throw AccountsError("\(place).ed25519PublicKey: \(error)")
                }
            } else {
                throw AccountsError("\(place): needs \"secret\" (HMAC) or \"ed25519PublicKey\"")
            }
            var free: [String: Decimal] = [:]
            for (asset, value) in entry["balances"] as? [String: Any] ?? [:] {
                let text = (value as? String) ?? (value as? NSNumber)?.stringValue ?? ""
                guard let amount = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), amount >= 0 else {
                    throw AccountsError("\(place).balances.\(asset): '\(text)' is not a non-negative amount")
                }
                free[asset] = amount
            }
            out.append(Account(apiKey: key, verifier: verifier, free: free))
        }
        return ExchangeAccounts(out)
    }

    /// The account of `apiKey` (nil: unknown).
    public func account(_ apiKey: String) -> Account? { accounts.withLock { $0[apiKey] } }

    /// Every account, in API key order.
    public var all: [Account] { accounts.withLock { $0.values.sorted { $0.apiKey < $1.apiKey } } }

    /// Whether any account exists (signed endpoints answer only then).
    public var isEmpty: Bool { accounts.withLock { $0.isEmpty } }
}

/// An accounts file that cannot be used.
public struct AccountsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Signed-request checks as Binance makes them, in its order: the API key header (-2014 malformed,
/// -2015 unknown), `signature` present (-1102), `timestamp` present and `recvWindow` ≤ 60,000
/// (-1102), the timing check (-1021: more than 1 s ahead of the server, or older than recvWindow,
/// default 5,000 ms), then the signature over the query string as sent (without `signature`)
/// followed by the body (-1022).
struct SignedRequestCheck {
    static func authenticate(
        apiKey: String?,
        rawQuery: String,
        body: String,
        parameters q: inout RequestParameters,
        accounts: ExchangeAccounts,
        now: Int64
    ) throws(APIError) -> ExchangeAccounts.Account {
        guard let apiKey, !apiKey.isEmpty, apiKey.utf8.count <= 64, apiKey.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw APIError(status: 401, code: -2014, message: "API-key format invalid.")
        }
        guard let account = accounts.account(apiKey) else {
            throw APIError(status: 401, code: -2015, message: "Invalid API-key, IP, or permissions for action.")
        }
        let signature = try q.required("signature")
        guard let timestamp = try q.integer("timestamp") else { throw .mandatory("timestamp") }
        var window: Double = 5_000
        if let text = try q.string("recvWindow") {
            guard let value = Double(text), value >= 0, isRecvWindowText(text) else {
                throw .illegal("recvWindow", range: #"^[0-9]{1,20}(\.[0-9]{1,3})?$"#)
            }
            guard value <= 60_000 else {
                throw APIError(status: 400, code: -1102, message: "'recvWindow' contains unexpected value. Cannot be greater than 60000.")
            }
            window = value
        }
        // Microsecond timestamps (16 digits) are accepted as Binance accepts them.
        let ms = timestamp >= 10_000_000_000_000 ? Double(timestamp) / 1_000 : Double(timestamp)
        if ms >= Double(now) + 1_000 {
            throw APIError(status: 400, code: -1021, message: "Timestamp for this request was 1000ms ahead of the server's time.")
        }
        if Double(now) - ms > window {
            throw APIError(status: 400, code: -1021, message: "Timestamp for this request is outside of the recvWindow.")
        }
        // The payload as sent: the query string without its signature pair, then the body.
        let query = withoutSignature(rawQuery)
        let bodyPart = withoutSignature(body)
        guard account.verifier.verifies(signature, of: SignedRequest.payload(query: query, body: bodyPart)) else {
            throw APIError(status: 400, code: -1022, message: "Signature for this request is not valid.")
        }
        return account
    }
}

/// `recvWindow` as Binance reads it: `^[0-9]{1,20}(\.[0-9]{1,3})?$`.
func isRecvWindowText(_ text: String) -> Bool {
    let parts = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
    func digits(_ part: Substring.UTF8View.SubSequence, _ range: ClosedRange<Int>) -> Bool {
        range.contains(part.count) && part.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
    return digits(parts[0], 1...20) && (parts.count == 1 || digits(parts[1], 1...3))
}

/// Parameter text without its `signature=` pairs: what was signed. Clients put the signature
/// last, so that case is cut off in place; any other is split and joined.
func withoutSignature(_ text: String) -> String {
    let pairs = text.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false)
    let signed = pairs.filter { $0.starts(with: "signature=".utf8) }
    guard !signed.isEmpty else { return text }
    if signed.count == 1, let last = pairs.last, last.starts(with: "signature=".utf8), pairs.count > 1 {
        // Up to the '&' before the signature.
        return String(text[..<text.utf8.index(before: last.startIndex)])
    }
    return pairs.filter { !$0.starts(with: "signature=".utf8) }.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "&")
}

/// A balance as Binance writes it: exactly 8 decimals.
func decimalText(_ value: Decimal) -> String { BinanceDecimal.fixed(value, places: 8) }
