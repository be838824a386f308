public import Crypto
import Foundation

/// Why a key could not be read.
public struct SigningError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The message (never the key itself).
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A key that signs Binance requests: an HMAC secret (hex signatures) or an Ed25519 private key
/// (base64 signatures). Neither its `description` nor its mirror (`dump`, `String(reflecting:)`)
/// shows the secret.
public enum SigningKey: Sendable, CustomStringConvertible, CustomReflectable {
    /// HMAC-SHA-256 with the API secret.
    case hmac(secret: String)
    /// Ed25519 with a private key.
    case ed25519(Curve25519.Signing.PrivateKey)

    /// An Ed25519 key from a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as Binance's key tools write it.
    public static func ed25519(pem: String) throws -> SigningKey {
        let body = pem.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body) else { throw SigningError("the Ed25519 key is not PEM (base64 between BEGIN/END lines)") }
        // PKCS#8 for Ed25519 (RFC 8410): SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }.
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        guard der.count == prefix.count + 32, Array(der.prefix(prefix.count)) == prefix else {
            throw SigningError("the key is not an unencrypted PKCS#8 Ed25519 private key (expected 48 bytes of DER, found \(der.count))")
        }
        do {
            return .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32)))
        } catch {
            throw SigningError("the Ed25519 key cannot be used: \(error)")
        }
    }

    /// The signature of `payload`: lowercase hex for HMAC, base64 for Ed25519.
    public func signature(of payload: String) -> String {
        switch self {
        case .hmac(let secret):
            let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            return Self.hex(mac)
        case .ed25519(let key):
            // Ed25519 signing does not fail for a valid key and any message.
            return ((try? key.signature(for: Data(payload.utf8))) ?? Data()).base64EncodedString()
        }
    }

    /// Lowercase hex of `bytes`, from a table (formatting each byte costs tens of µs a signature).
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String {
        switch self {
        case .hmac: "HMAC-SHA256 key (secret not shown)"
        case .ed25519: "Ed25519 key (private key not shown)"
        }
    }

    public var customMirror: Mirror { Mirror(self, children: ["key": description], displayStyle: .enum) }
}

/// A key that checks signatures, as the exchange does.
public enum VerificationKey: Sendable, CustomStringConvertible {
    /// HMAC-SHA-256 with the account's secret.
    case hmac(secret: String)
    /// An Ed25519 public key.
    case ed25519(Curve25519.Signing.PublicKey)

    /// An Ed25519 public key from its 32 raw bytes in hex.
    public static func ed25519(publicKeyHex hex: String) throws -> VerificationKey {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let byte = UInt8(hex[index..<next], radix: 16) else { throw SigningError("the Ed25519 public key is not hex") }
            bytes.append(byte)
            index = next
        }
        do {
            return .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: bytes))
        } catch {
            throw SigningError("the Ed25519 public key cannot be used: \(error)")
        }
    }

    /// An Ed25519 public key from an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as Binance takes it.
    public static func ed25519(publicPEM pem: String) throws -> VerificationKey {
        let body = pem.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("-----") }.joined()
        let prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        guard let der = Data(base64Encoded: body), der.count == prefix.count + 32, Array(der.prefix(prefix.count)) == prefix else {
            throw SigningError("the key is not an SPKI Ed25519 public key")
        }
        do {
            return .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32)))
        } catch {
            throw SigningError("the Ed25519 public key cannot be used: \(error)")
        }
    }

    /// Whether `signature` signs `payload`: HMAC hex compared without regard to case (as Binance
    /// does) in constant time; Ed25519 base64, exact.
    public func verifies(_ signature: String, of payload: String) -> Bool {
        switch self {
        case .hmac(let secret):
            let expected = SigningKey.hmac(secret: secret).signature(of: payload)
            let given = signature.lowercased()
            guard given.utf8.count == expected.utf8.count else { return false }
            var difference: UInt8 = 0
            for (a, b) in zip(given.utf8, expected.utf8) { difference |= a ^ b }
            return difference == 0
        case .ed25519(let key):
            guard let bytes = Data(base64Encoded: signature) else { return false }
            return key.isValidSignature(bytes, for: Data(payload.utf8))
        }
    }

    public var description: String {
        switch self {
        case .hmac: "HMAC-SHA256 key (secret not shown)"
        case .ed25519: "Ed25519 public key"
        }
    }
}

/// How Binance's signed requests are written: the payload is the percent-encoded query string
/// concatenated, without a separator, with the body; the signature goes last as `signature=…`.
/// The WebSocket API signs its parameters sorted by name, not percent-encoded.
public enum SignedRequest {
    /// `name=value` pairs joined with `&`, names and values percent-encoded (``percentEncode(_:)``), in the given order.
    public static func queryString(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// The signed payload of a REST request: its query string, then its body, with no separator.
    public static func payload(query: String, body: String) -> String { query + body }

    /// The query string with `signature` appended (percent-encoded: base64 has `+`, `/`, `=`).
    public static func signedQuery(_ parameters: [(String, String)], key: SigningKey) -> String {
        let query = queryString(parameters)
        return query + "&signature=" + percentEncode(key.signature(of: query))
    }

    /// The WebSocket API's payload: every parameter but `signature`, sorted by name, `name=value`
    /// joined with `&`, UTF-8, not percent-encoded.
    public static func webSocketPayload(_ parameters: [(String, String)]) -> String {
        parameters.filter { $0.0 != "signature" }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters (`A–Z a–z 0–9 - _ . ~`) as they are, every other byte of the
    /// UTF-8 as `%XX` in uppercase hex (Binance's example encodes `１` as `%EF%BC%91`).
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
