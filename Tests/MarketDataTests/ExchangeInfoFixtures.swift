import Foundation

/// exchangeInfo documents written by hand in the shapes Binance documents (spot
/// `GET /api/v3/exchangeInfo` today and before the 2023 switch from MIN_NOTIONAL to NOTIONAL; USDⓈ-M
/// futures `GET /fapi/v1/exchangeInfo`), trimmed to a few symbols. The field names, nesting and
/// value formats (decimal text in JSON strings, eight places on spot, as few as needed on futures)
/// follow Binance's documentation; the values are illustrative, not a copy of a real response.
enum ExchangeInfoFixtures {
    /// 2024-08-08T12:00:00Z.
    static let spotTime: Int64 = 1_723_118_400_000
    /// 2021-05-03T06:00:00Z.
    static let oldSpotTime: Int64 = 1_620_021_600_000
    /// 2024-09-02T08:30:00Z.
    static let futuresTime: Int64 = 1_725_265_800_000

    /// Spot today: NOTIONAL with minNotional and maxNotional, permissionSets, other filters to skip.
    static let spot = #"""
        {
          "timezone": "UTC",
          "serverTime": 1723118400000,
          "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
          ],
          "exchangeFilters": [],
          "symbols": [
            {
              "symbol": "BTCUSDT",
              "status": "TRADING",
              "baseAsset": "BTC",
              "baseAssetPrecision": 8,
              "quoteAsset": "USDT",
              "quotePrecision": 8,
              "quoteAssetPrecision": 8,
              "baseCommissionPrecision": 8,
              "quoteCommissionPrecision": 8,
              "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
              "icebergAllowed": true,
              "ocoAllowed": true,
              "otoAllowed": true,
              "quoteOrderQtyMarketAllowed": true,
              "allowTrailingStop": true,
              "cancelReplaceAllowed": true,
              "isSpotTradingAllowed": true,
              "isMarginTradingAllowed": true,
              "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "83.91463417", "stepSize": "0.00000000"},
                {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
                {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2", "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5}
              ],
              "permissions": [],
              "permissionSets": [["SPOT", "MARGIN", "TRD_GRP_004", "TRD_GRP_005"]],
              "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
              "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
            },
            {
              "symbol": "FILUSDT",
              "status": "TRADING",
              "baseAsset": "FIL",
              "baseAssetPrecision": 8,
              "quoteAsset": "USDT",
              "quotePrecision": 8,
              "quoteAssetPrecision": 8,
              "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
              "icebergAllowed": true,
              "ocoAllowed": true,
              "quoteOrderQtyMarketAllowed": true,
              "isSpotTradingAllowed": true,
              "isMarginTradingAllowed": true,
              "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.00100000", "maxPrice": "10000.00000000", "tickSize": "0.00100000"},
                {"filterType": "LOT_SIZE", "minQty": "0.01000000", "maxQty": "92141578.00000000", "stepSize": "0.01000000"},
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200}
              ],
              "permissions": [],
              "permissionSets": [["SPOT", "MARGIN"]]
            }
          ]
        }
        """#

    /// Spot before 2023: MIN_NOTIONAL with minNotional, applyToMarket and a flat permissions list.
    static let oldSpot = #"""
        {
          "timezone": "UTC",
          "serverTime": 1620021600000,
          "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
          "exchangeFilters": [],
          "symbols": [
            {
              "symbol": "FILUSDT",
              "status": "TRADING",
              "baseAsset": "FIL",
              "baseAssetPrecision": 8,
              "quoteAsset": "USDT",
              "quotePrecision": 8,
              "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
              "icebergAllowed": true,
              "ocoAllowed": true,
              "isSpotTradingAllowed": true,
              "isMarginTradingAllowed": true,
              "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "10000.00000000", "tickSize": "0.01000000"},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "5", "multiplierDown": "0.2", "avgPriceMins": 5},
                {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "9000000.00000000", "stepSize": "0.00100000"},
                {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": true, "avgPriceMins": 5}
              ],
              "permissions": ["SPOT", "MARGIN"]
            },
            {
              "symbol": "NEARUSDT",
              "status": "TRADING",
              "baseAsset": "NEAR",
              "quoteAsset": "USDT",
              "isSpotTradingAllowed": true,
              "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.00010000", "maxPrice": "1000.00000000", "tickSize": "0.00010000"},
                {"filterType": "LOT_SIZE", "minQty": "0.10000000", "maxQty": "9000000.00000000", "stepSize": "0.10000000"},
                {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": true, "avgPriceMins": 5}
              ],
              "permissions": ["SPOT"]
            }
          ]
        }
        """#

    /// USDⓈ-M futures: MIN_NOTIONAL with `notional`, contractType, short decimal text.
    static let futures = #"""
        {
          "timezone": "UTC",
          "serverTime": 1725265800000,
          "futuresType": "U_MARGINED",
          "rateLimits": [{"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"}],
          "exchangeFilters": [],
          "assets": [{"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000"}],
          "symbols": [
            {
              "symbol": "FILUSDT",
              "pair": "FILUSDT",
              "contractType": "PERPETUAL",
              "deliveryDate": 4133404800000,
              "onboardDate": 1603123200000,
              "status": "TRADING",
              "baseAsset": "FIL",
              "quoteAsset": "USDT",
              "marginAsset": "USDT",
              "pricePrecision": 4,
              "quantityPrecision": 1,
              "baseAssetPrecision": 8,
              "quotePrecision": 8,
              "underlyingType": "COIN",
              "underlyingSubType": ["Storage"],
              "triggerProtect": "0.0500",
              "filters": [
                {"filterType": "PRICE_FILTER", "maxPrice": "3006", "minPrice": "0.001", "tickSize": "0.001"},
                {"filterType": "LOT_SIZE", "maxQty": "1000000", "minQty": "0.1", "stepSize": "0.1"},
                {"filterType": "MARKET_LOT_SIZE", "maxQty": "80000", "minQty": "0.1", "stepSize": "0.1"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": "5"},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1500", "multiplierDown": "0.8500", "multiplierDecimal": "4"}
              ],
              "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
              "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
              "liquidationFee": "0.015000",
              "marketTakeBound": "0.05"
            }
          ]
        }
        """#
}
