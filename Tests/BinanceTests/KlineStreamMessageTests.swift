import Binance
import Foundation
import ScalperCore
import Testing

@Suite("KlineStreamMessage: Binance combined-stream frames")
struct KlineStreamMessageTests {
    /// A kline frame in Binance's documented shape, with distinct values in every column.
    private let frame = #"{"stream":"bnbbtc@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.00100000","c":"0.00200000","h":"0.00250000","l":"0.00050000","v":"1000.12345678","n":101,"x":true,"q":"1.00123456","V":"500.5","Q":"0.500","B":"123456"}}}"#

    @Test("A closed kline frame gives all 12 columns, prices parsed from their text")
    func closedFrame() throws {
        let message = try KlineStreamMessage.parse(frame)
        let expected = Kline(
            openTime: 1_672_515_780_000, open: 0.001, high: 0.0025, low: 0.0005, close: 0.002, volume: 1000.12345678,
            closeTime: 1_672_515_839_999, quoteVolume: 1.00123456, tradeCount: 101, takerBuyBaseVolume: 500.5,
            takerBuyQuoteVolume: 0.5, ignore: 123_456
        )
        #expect(message == .kline(symbol: "BNBBTC", interval: "1m", bar: expected, isClosed: true))
    }

    @Test("x false is a bar in progress; marks and replies are recognised")
    func otherMessages() throws {
        let open = frame.replacingOccurrences(of: #""x":true"#, with: #""x":false"#)
        guard case .kline(_, _, _, let isClosed) = try KlineStreamMessage.parse(open) else {
            Issue.record("not a kline")
            return
        }
        #expect(!isClosed)
        #expect(try KlineStreamMessage.parse(#"{"e":"lockStep","E":1690934400000}"#) == .lockStepMark(1_690_934_400_000))
        #expect(try KlineStreamMessage.parse(#"{"result":null,"id":7}"#) == .reply(id: 7))
        let error = #"{"error":{"code":2,"msg":"no"},"id":8}"#
        #expect(try KlineStreamMessage.parse(error) == .errorReply(error))
    }

    @Test(
        "Malformed frames are rejected naming the field",
        arguments: [
            ("not json", "not a JSON object"),
            (#"{"stream":"bnbbtc@kline_1m"}"#, "bnbbtc@kline_1m: no data object"),
            (#"{"stream":"bnbbtc@aggTrade","data":{"e":"aggTrade"}}"#, "bnbbtc@aggTrade: event aggTrade, not a kline"),
            (#"{"stream":"bnbbtc@trade","data":{"e":"trade"}}"#, "bnbbtc@trade s: missing"),
            (#"{"stream":"bnbbtc@trade","data":{"e":"trade","s":"BNBBTC","p":"0","q":"1","T":1,"t":2}}"#, "bnbbtc@trade: a trade needs a positive price and quantity"),
            (#"{"stream":"bnbbtc@depth20@100ms","data":{"lastUpdateId":5,"bids":[["1"]],"asks":[]}}"#, "bnbbtc@depth20@100ms.bids: a level is not [\"price\",\"quantity\"]"),
            ("PRICE", "bnbbtc@kline_1m k.o: not a decimal string"),
            ("OPENTIME", "bnbbtc@kline_1m k.t: not a JSON integer"),
            ("CLOSED", "bnbbtc@kline_1m k.x: not a boolean"),
            ("SYMBOL", "bnbbtc@kline_1m k.s: ETHBTC is not the stream's symbol"),
        ]
    )
    func malformed(_ input: String, _ reason: String) {
        let text: String =
            switch input {
            case "PRICE": frame.replacingOccurrences(of: #""o":"0.00100000""#, with: #""o":0.001"#)
            case "OPENTIME": frame.replacingOccurrences(of: #""t":1672515780000"#, with: #""t":"1672515780000""#)
            case "CLOSED": frame.replacingOccurrences(of: #""x":true"#, with: #""x":"true""#)
            case "SYMBOL": frame.replacingOccurrences(of: "BNBBTC", with: "ETHBTC")
            default: input
            }
        let error = #expect(throws: KlineStreamMessageError.self) { try KlineStreamMessage.parse(text) }
        #expect(error?.message == reason)
    }

    @Test("Trade and depth20 frames give the print (price, quantity, T, id) and the book levels, the symbol from the stream")
    func tradeAndBook() throws {
        let trade = #"{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}"#
        #expect(try KlineStreamMessage.parse(trade) == .trade(symbol: "BNBBTC", price: 0.001, quantity: 100, time: 1_672_515_782_136, id: 12_345))
        let book = #"{"stream":"bnbbtc@depth20@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"],["0.0027","0"]]}}"#
        #expect(
            try KlineStreamMessage.parse(book)
                == .partialBook(
                    symbol: "BNBBTC",
                    DepthSnapshot(
                        lastUpdateID: 160,
                        bids: [PriceLevel(price: 0.0024, quantity: 10)],
                        asks: [PriceLevel(price: 0.0026, quantity: 100), PriceLevel(price: 0.0027, quantity: 0)]
                    )
                )
        )
    }
}
