import Binance
import Foundation
import Testing

/// The signing examples of Binance's spot API documentation (`binance/binance-spot-api-docs`,
/// rest-api.md "SIGNED Endpoint Examples for POST /api/v3/order", web-socket-api.md "SIGNED request
/// example (HMAC)"), reproduced exactly.
@Suite("Binance request signing")
struct RequestSigningTests {
    static let apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    static let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    static let order: [(String, String)] = [
        ("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"), ("price", "0.1"),
        ("recvWindow", "5000"), ("timestamp", "1499827319559"),
    ]

    @Test("REST, HMAC-SHA256: the documentation's order, ASCII and non-ASCII, gives its signatures")
    func restHMAC() throws {
        let key = SigningKey.hmac(secret: Self.secret)
        let payload = SignedRequest.queryString(Self.order)
        #expect(payload == "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
        #expect(key.signature(of: payload) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")

        var unicode = Self.order
        unicode[0].1 = "１２３４５６"
        let encoded = SignedRequest.queryString(unicode)
        #expect(encoded.hasPrefix("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY"))
        #expect(key.signature(of: encoded) == "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3")

        // The URL a client sends: the payload, then the signature.
        let url = SignedRequest.signedQuery(Self.order, key: key)
        #expect(url == payload + "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
    }

    @Test("REST, HMAC: a query string and a body are signed concatenated without a separator (the documentation's earlier example 3)")
    func queryAndBody() {
        let key = SigningKey.hmac(secret: Self.secret)
        let payload = SignedRequest.payload(
            query: "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            body: "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        )
        #expect(key.signature(of: payload) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")
    }

    @Test("WebSocket API, HMAC: parameters sorted by name, not percent-encoded, give the documentation's signatures")
    func webSocketHMAC() {
        let key = SigningKey.hmac(secret: Self.secret)
        var params: [(String, String)] = [
            ("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.01000000"),
            ("price", "52000.00"), ("recvWindow", "100"), ("timestamp", "1645423376532"), ("apiKey", Self.apiKey),
        ]
        let payload = SignedRequest.webSocketPayload(params)
        #expect(
            payload
                == "apiKey=\(Self.apiKey)&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        )
        #expect(key.signature(of: payload) == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24")
        params = [
            ("symbol", "１２３４５６"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1.00000000"),
            ("price", "0.10000000"), ("recvWindow", "5000"), ("timestamp", "1645423376532"), ("apiKey", Self.apiKey),
        ]
        #expect(key.signature(of: SignedRequest.webSocketPayload(params)) == "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd")
        // session.logon's (and userDataStream.subscribe.signature's) payload shape.
        let logon = SignedRequest.webSocketPayload([("timestamp", "1649729878532"), ("apiKey", Self.apiKey)])
        #expect(key.signature(of: logon) == "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed")
    }

    @Test("Ed25519: a PKCS#8 key signs deterministically (RFC 8032 test key 1 over the documentation's payload) and verifies")
    func ed25519() throws {
        let pem = """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
            -----END PRIVATE KEY-----
            """
        let key = try SigningKey.ed25519(pem: pem)
        let payload = SignedRequest.queryString(Self.order)
        let signature = key.signature(of: payload)
        #expect(signature == "3fhuDZ9nYMviDQ5OEtJBJS11jUZDTRzRQ+TQMarm+LErFiJvUiVPQjTzDoWZQe4miPX+yHk1v/Z7TWLYjIbmCA==")
        // In a URL the base64 is percent-encoded.
        #expect(SignedRequest.signedQuery(Self.order, key: key).hasSuffix("&signature=3fhuDZ9nYMviDQ5OEtJBJS11jUZDTRzRQ%2BTQMarm%2BLErFiJvUiVPQjTzDoWZQe4miPX%2ByHk1v%2FZ7TWLYjIbmCA%3D%3D"))
        let verifier = try VerificationKey.ed25519(publicKeyHex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        #expect(verifier.verifies(signature, of: payload))
        #expect(!verifier.verifies(signature, of: payload + "&x=1"))
        #expect(throws: SigningError.self) { try SigningKey.ed25519(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----") }
    }

    @Test("Verification as the exchange does it: HMAC signatures compare case-insensitively; a wrong one fails")
    func verification() {
        let verifier = VerificationKey.hmac(secret: Self.secret)
        let payload = SignedRequest.queryString(Self.order)
        #expect(verifier.verifies("c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71", of: payload))
        #expect(verifier.verifies("C8DB56825AE71D6D79447849E617115F4A920FA2ACDCAB2B053C4B2838BD6B71", of: payload))
        #expect(!verifier.verifies("c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b70", of: payload))
        #expect(!verifier.verifies("", of: payload))
    }

    @Test("Percent-encoding: unreserved ASCII stays, everything else is UTF-8 bytes in uppercase hex, = and & inside values too")
    func percentEncoding() {
        #expect(SignedRequest.percentEncode("AZaz09-_.~") == "AZaz09-_.~")
        #expect(SignedRequest.percentEncode("a b+c/d=e&f") == "a%20b%2Bc%2Fd%3De%26f")
        #expect(SignedRequest.percentEncode("é") == "%C3%A9")
        #expect(SignedRequest.queryString([("newClientOrderId", "x=1&y")]) == "newClientOrderId=x%3D1%26y")
    }

    @Test("A signing key never shows its secret: not in its description, not in dump or String(reflecting:)")
    func keyNeverShown() throws {
        let secret = "hiddenSecretValue0123456789"
        let pem = """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
            -----END PRIVATE KEY-----
            """
        for key in [SigningKey.hmac(secret: secret), try SigningKey.ed25519(pem: pem)] {
            var dumped = ""
            dump(key, to: &dumped)
            for text in [key.description, dumped, String(reflecting: key), "\(key)"] {
                #expect(!text.contains(secret))
                #expect(!text.contains("9d61b19d"))
                #expect(!text.lowercased().contains("rawrepresentation"))
            }
        }
    }
}
