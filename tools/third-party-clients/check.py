#!/usr/bin/env python3
"""Runs third-party Binance clients against a local `scalper exchange` and reports each call.

Every spot market-data call of Binance's official Python connector (`binance-connector`, module
`binance.spot`: REST and WebSocket streams) and of `ccxt` (binance) is made against the exchange;
with --orders, their order calls too. Each call is reported OK or FAIL, a failure with the request
and the response. Exit status 0 when every call passed.

Dev tooling only: the exchange does not depend on it. See README.md beside this file.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback

RESULTS = []  # (group, call, ok, detail)


def record(group, call, ok, detail=""):
    RESULTS.append((group, call, ok, detail))
    mark = "OK  " if ok else "FAIL"
    print(f"{mark} {group:<22} {call}" + (f"\n       {detail}" if detail and not ok else ""), flush=True)


class Last:
    """The last HTTP exchange a client made (request line, status, body), for failure reports."""

    def __init__(self):
        self.request = ""
        self.response = ""

    def text(self):
        return f"request: {self.request}\n       response: {self.response}"

    def hook(self, response, *args, **kwargs):
        """A `requests` response hook (returns None, so the response is kept)."""
        body = response.request.body
        body = body.decode() if isinstance(body, bytes) else (body or "")
        self.request = f"{response.request.method} {response.request.url}" + (f" body {body}" if body else "")
        self.response = f"{response.status_code} {response.text[:400]}"


def run(group, call, fn, check=None, last=None):
    """Calls fn(); check(result) returns None when the result is right, else what is wrong."""
    try:
        result = fn()
        problem = check(result) if check else None
        if problem:
            record(group, call, False, problem + ("\n       " + last.text() if last else ""))
        else:
            record(group, call, True)
        return result
    except Exception as error:  # a client error is a failure to report, whatever its type
        detail = f"{type(error).__name__}: {str(error)[:600]}"
        if last:
            detail += "\n       " + last.text()
        record(group, call, False, detail)
        return None


# Field order of each REST answer, as rest-api.md writes it.
TICKER_FULL = ["symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice",
               "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume",
               "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count"]
TICKER_MINI = ["symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume", "openTime",
               "closeTime", "firstId", "lastId", "count"]
WINDOW_FULL = ["symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "openPrice", "highPrice",
               "lowPrice", "lastPrice", "volume", "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count"]
TRADE = ["id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"]
AGG = ["a", "p", "q", "f", "l", "T", "m", "M"]
BOOK = ["symbol", "bidPrice", "bidQty", "askPrice", "askQty"]
PRICE = ["symbol", "price"]


def keys(expected, many=False, count=None):
    """A check that an answer (or each of a list) has exactly `expected` keys, in that order."""

    def check(result):
        rows = result if many else [result]
        if many and not isinstance(result, list):
            return f"expected a list, got {type(result).__name__}"
        if many and count is not None and len(rows) != count:
            return f"expected {count} rows, got {len(rows)}"
        if many and not rows:
            return "empty list"
        for row in rows:
            if list(row.keys()) != expected:
                return f"keys {list(row.keys())} != {expected}"
        return None

    return check


def start_exchange(args, accounts_path):
    """Starts `scalper exchange` on a free port; returns (process, base URL)."""
    command = [args.scalper, "exchange", "--store", args.start, "--port", "0", "--symbols", args.symbols]
    if accounts_path:
        command += ["--accounts", accounts_path]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.match(r"^exchange: (http://127\.0\.0\.1:\d+)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, match.group(1)
    process.kill()
    sys.exit(f"the exchange did not start: {' '.join(command)}")


# MARK: binance-connector


def connector_rest(base, symbols):
    from binance.spot import Spot

    group = "connector REST"
    client = Spot(base_url=base)
    last = Last()
    client.session.hooks["response"].append(last.hook)
    s, other = symbols[0], symbols[1]
    run(group, "ping()", client.ping, lambda r: None if r == {} else f"{r}", last)
    server = run(group, "time()", client.time, lambda r: None if isinstance(r.get("serverTime"), int) else f"{r}", last)
    run(group, "exchange_info()", client.exchange_info,
        lambda r: None if {x["symbol"] for x in r["symbols"]} >= set(symbols) else "symbols missing", last)
    run(group, f"exchange_info(symbol={s})", lambda: client.exchange_info(symbol=s),
        lambda r: None if [x["symbol"] for x in r["symbols"]] == [s] else f"{r['symbols']}", last)
    run(group, "exchange_info(symbols=[…])", lambda: client.exchange_info(symbols=symbols),
        lambda r: None if [x["symbol"] for x in r["symbols"]] == symbols else "wrong symbols", last)
    depth = run(group, "depth(limit=10)", lambda: client.depth(s, limit=10),
                lambda r: None if list(r.keys()) == ["lastUpdateId", "bids", "asks"] and len(r["bids"]) == 10 else f"{r}", last)
    trades = run(group, "trades(limit=20)", lambda: client.trades(s, limit=20), keys(TRADE, True, 20), last)
    run(group, "historical_trades()", lambda: client.historical_trades(s), keys(TRADE, True, 500), last)
    if trades:
        first = trades[0]["id"]
        run(group, "historical_trades(fromId, limit=5)", lambda: client.historical_trades(s, fromId=first, limit=5),
            lambda r: keys(TRADE, True, 5)(r) or (None if [t["id"] for t in r] == [t["id"] for t in trades[:5]] else "ids differ from trades()"), last)
    aggs = run(group, "agg_trades(limit=20)", lambda: client.agg_trades(s, limit=20), keys(AGG, True, 20), last)
    if aggs:
        a0 = aggs[0]["a"]
        run(group, "agg_trades(fromId, limit=3)", lambda: client.agg_trades(s, fromId=a0, limit=3),
            lambda r: keys(AGG, True, 3)(r) or (None if [x["a"] for x in r] == [x["a"] for x in aggs[:3]] else "ids differ"), last)
        t0 = aggs[0]["T"]
        run(group, "agg_trades(startTime, endTime)", lambda: client.agg_trades(s, startTime=t0, endTime=t0 + 5_000),
            lambda r: keys(AGG, True)(r) or (None if all(t0 <= x["T"] <= t0 + 5_000 for x in r) else "outside the window"), last)
    run(group, "klines(1m, limit=10)", lambda: client.klines(s, "1m", limit=10),
        lambda r: None if len(r) == 10 and all(len(k) == 12 for k in r) else f"{len(r)} rows", last)
    if server:
        start = (server["serverTime"] - 3_600_000) // 60_000 * 60_000
        run(group, "klines(1m, startTime, endTime)", lambda: client.klines(s, "1m", startTime=start, endTime=start + 600_000),
            lambda r: None if len(r) == 11 else f"{len(r)} rows", last)
    run(group, "ui_klines(1m, limit=10)", lambda: client.ui_klines(s, "1m", limit=10),
        lambda r: None if len(r) == 10 else f"{len(r)} rows", last)
    run(group, "avg_price()", lambda: client.avg_price(s),
        lambda r: None if list(r.keys()) == ["mins", "price", "closeTime"] and r["mins"] == 5 else f"{r}", last)
    run(group, "ticker_24hr(symbol)", lambda: client.ticker_24hr(s), keys(TICKER_FULL), last)
    run(group, "ticker_24hr(symbols)", lambda: client.ticker_24hr(symbols=symbols), keys(TICKER_FULL, True, len(symbols)), last)
    run(group, "ticker_24hr()", lambda: client.ticker_24hr(), keys(TICKER_FULL, True), last)
    run(group, "ticker_24hr(type=MINI)", lambda: client.ticker_24hr(s, type="MINI"), keys(TICKER_MINI), last)
    run(group, "trading_day_ticker(symbol)", lambda: client.trading_day_ticker(s), keys(WINDOW_FULL), last)
    run(group, "trading_day_ticker(symbols)", lambda: client.trading_day_ticker(symbols=symbols), keys(WINDOW_FULL, True, len(symbols)), last)
    run(group, "ticker_price(symbol)", lambda: client.ticker_price(s), keys(PRICE), last)
    run(group, "ticker_price(symbols)", lambda: client.ticker_price(symbols=symbols), keys(PRICE, True, len(symbols)), last)
    run(group, "ticker_price()", lambda: client.ticker_price(), keys(PRICE, True), last)
    book = run(group, "book_ticker(symbol)", lambda: client.book_ticker(s), keys(BOOK), last)
    run(group, "book_ticker(symbols)", lambda: client.book_ticker(symbols=[other, s]), keys(BOOK, True, 2), last)
    run(group, "book_ticker()", lambda: client.book_ticker(), keys(BOOK, True), last)
    if book and depth:
        # Same sim second, same book: the best levels agree (the replay's book changes once a second).
        run(group, "book_ticker == depth best", lambda: (client.book_ticker(s), client.depth(s, limit=1)),
            lambda r: None if (r[0]["bidPrice"], r[0]["askPrice"]) == (r[1]["bids"][0][0], r[1]["asks"][0][0]) else f"{r}", last)
    run(group, "rolling_window_ticker(symbol)", lambda: client.rolling_window_ticker(s), keys(WINDOW_FULL), last)
    run(group, "rolling_window_ticker(symbols, 1h)", lambda: client.rolling_window_ticker(symbols=symbols, windowSize="1h"),
        keys(WINDOW_FULL, True, len(symbols)), last)


def connector_streams(base, symbols):
    from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

    group = "connector streams"
    s = symbols[0]
    received = {}
    lock = threading.Lock()

    def on_message(_, message):
        try:
            frame = json.loads(message)
        except ValueError:
            return
        if "stream" in frame:
            with lock:
                received.setdefault(frame["stream"], frame["data"])
        elif "result" in frame or "error" in frame:
            with lock:
                received.setdefault(f"reply:{frame.get('id')}", frame)

    client = SpotWebsocketStreamClient(stream_url=base.replace("http://", "ws://"), on_message=on_message, is_combined=True)
    calls = [
        ("agg_trade", f"{s.lower()}@aggTrade", lambda i: client.agg_trade(s, id=i)),
        ("trade", f"{s.lower()}@trade", lambda i: client.trade(s, id=i)),
        ("kline(1m)", f"{s.lower()}@kline_1m", lambda i: client.kline(s, "1m", id=i)),
        ("mini_ticker(symbol)", f"{s.lower()}@miniTicker", lambda i: client.mini_ticker(s, id=i)),
        ("mini_ticker()", "!miniTicker@arr", lambda i: client.mini_ticker(id=i)),
        ("book_ticker", f"{s.lower()}@bookTicker", lambda i: client.book_ticker(s, id=i)),
        ("partial_book_depth(20, 100)", f"{s.lower()}@depth20@100ms", lambda i: client.partial_book_depth(s, level=20, speed=100, id=i)),
        ("partial_book_depth()", f"{s.lower()}@depth5@1000ms", lambda i: client.partial_book_depth(s, id=i)),
        ("diff_book_depth(100)", f"{s.lower()}@depth@100ms", lambda i: client.diff_book_depth(s, speed=100, id=i)),
        ("diff_book_depth()", f"{s.lower()}@depth@1000ms", lambda i: client.diff_book_depth(s, id=i)),
        ("ticker(symbol)", f"{s.lower()}@ticker", lambda i: client.ticker(s, id=i)),
        ("rolling_window_ticker(1h)", f"{s.lower()}@ticker_1h", lambda i: client.rolling_window_ticker(s, "1h", id=i)),
        ("rolling_window_ticker_all_symbols(1h)", "!ticker_1h@arr", lambda i: client.rolling_window_ticker_all_symbols("1h", id=i)),
        ("kline_timezone_offset(1m)", f"{s.lower()}@kline_1m@+08:00", lambda i: client.kline_timezone_offset(s, "1m", id=i)),
    ]
    try:
        for k, (name, stream, subscribe) in enumerate(calls):
            # The exchange, as Binance, closes a connection sending more than 5 messages a second.
            time.sleep(0.3)
            subscribe(k + 1)
        deadline = time.time() + 8
        while time.time() < deadline:
            with lock:
                if all(stream in received for _, stream, _ in calls):
                    break
            time.sleep(0.2)
        # Binance no longer lists `!ticker@arr` (web-socket-streams.md): it must be refused.
        client.ticker(id=99)
        time.sleep(1)
        for k, (name, stream, _) in enumerate(calls):
            with lock:
                reply = received.get(f"reply:{k + 1}")
                data = received.get(stream)
                lowered = received.get(stream.lower())
            if data is not None:
                record(group, name, True)
            elif lowered is not None:
                # Frames come, but a client matching the combined frame's name to what it subscribed misses them.
                record(group, name, False, f"SUBSCRIBE {stream}: frames arrive as {{\"stream\":\"{stream.lower()}\"}}, "
                                           f"Binance names them \"{stream}\"")
            else:
                record(group, name, False, f"SUBSCRIBE {stream}: reply {json.dumps(reply)}, no frame within 8 s")
        with lock:
            reply = received.get("reply:99")
        record(group, "ticker() refused (no !ticker@arr)", bool(reply and "error" in reply), f"reply {json.dumps(reply)}")
    finally:
        client.stop()


# MARK: ccxt


def make_ccxt(base, key=None, secret=None):
    import ccxt

    exchange = ccxt.binance({
        "enableRateLimit": False,
        "apiKey": key,
        "secret": secret,
        "options": {
            "fetchMarkets": {"types": ["spot"]},
            # Margin pairs come from sapi (not the spot API); ccxt asks for them once keys are set.
            "fetchMargins": False,
            # sapi (wallet) endpoints are not part of the spot API the exchange serves.
            "fetchCurrencies": False,
            # The exchange's clock is the replay's: sign with its time.
            "adjustForTimeDifference": secret is not None,
        },
    })
    # Every API host ccxt knows (wallet, margin, futures too) points at the local exchange, so no
    # call can leave the machine; what the exchange does not serve answers 404 there.
    for name, url in list(exchange.urls["api"].items()):
        if isinstance(url, str):
            exchange.urls["api"][name] = re.sub(r"^https?://[^/]+", base, url)
    return exchange


def ccxt_last(exchange):
    class View(Last):
        def text(self):
            return f"request: {exchange.last_request_url}\n       response: {str(exchange.last_http_response)[:400]}"

    return View()


def ccxt_market_data(base, symbols):
    group = "ccxt"
    exchange = make_ccxt(base)
    last = ccxt_last(exchange)
    unified = [f"{x[:-4]}/USDT" for x in symbols]
    s = unified[0]
    run(group, "fetch_time()", exchange.fetch_time, lambda r: None if isinstance(r, int) else f"{r}", last)
    markets = run(group, "load_markets()", exchange.load_markets,
                  lambda r: None if all(u in r for u in unified) else f"missing {unified}", last)
    if not markets:
        return
    m = exchange.market(s)
    run(group, "market precision/limits", lambda: m,
        lambda r: None if r["precision"]["price"] and r["precision"]["amount"] and r["limits"]["cost"]["min"] else f"{r['precision']} {r['limits']}")
    run(group, "fetch_ticker()", lambda: exchange.fetch_ticker(s),
        lambda r: None if r["last"] and r["bid"] and r["ask"] and r["vwap"] and r["previousClose"] else f"{r}", last)
    run(group, "fetch_tickers()", lambda: exchange.fetch_tickers(),
        lambda r: None if all(u in r for u in unified) else f"{list(r)}", last)
    run(group, "fetch_tickers([…])", lambda: exchange.fetch_tickers(unified),
        lambda r: None if sorted(r) == sorted(unified) else f"{list(r)}", last)
    run(group, "fetch_bids_asks()", lambda: exchange.fetch_bids_asks(unified),
        lambda r: None if all(r[u]["bid"] and r[u]["ask"] for u in unified) else f"{r}", last)
    run(group, "fetch_last_prices()", lambda: exchange.fetch_last_prices(unified),
        lambda r: None if all(r[u]["price"] for u in unified) else f"{r}", last)
    run(group, "fetch_order_book(limit=5)", lambda: exchange.fetch_order_book(s, limit=5),
        lambda r: None if len(r["bids"]) == 5 and r["bids"][0][0] < r["asks"][0][0] else f"{r}", last)
    run(group, "fetch_l2_order_book()", lambda: exchange.fetch_l2_order_book(s),
        lambda r: None if r["bids"] and r["asks"] else f"{r}", last)
    bars = run(group, "fetch_ohlcv(1m, limit=10)", lambda: exchange.fetch_ohlcv(s, "1m", limit=10),
               lambda r: None if len(r) == 10 else f"{len(r)} bars", last)
    if bars:
        since = bars[0][0]
        run(group, "fetch_ohlcv(1m, since)", lambda: exchange.fetch_ohlcv(s, "1m", since=since, limit=5),
            lambda r: None if [b[0] for b in r] == [b[0] for b in bars[:5]] else f"{r}", last)
    run(group, "fetch_ohlcv(5m)", lambda: exchange.fetch_ohlcv(s, "5m", limit=5),
        lambda r: None if len(r) == 5 else f"{len(r)} bars", last)
    trades = run(group, "fetch_trades()", lambda: exchange.fetch_trades(s, limit=20),
                 lambda r: None if len(r) == 20 and all(t["price"] and t["amount"] for t in r) else f"{len(r)} trades", last)
    if trades:
        since = trades[0]["timestamp"]
        run(group, "fetch_trades(since)", lambda: exchange.fetch_trades(s, since=since, limit=5),
            lambda r: None if r and r[0]["timestamp"] >= since else f"{r}", last)
    # ccxt refuses historicalTrades without an API key (Binance's old MARKET_DATA security; the
    # endpoint is NONE since 2023-07-11): any key satisfies it, and the exchange ignores it.
    keyed = make_ccxt(base, key="unused-by-the-endpoint")
    keyed.load_markets()
    for method in ("publicGetTrades", "publicGetHistoricalTrades", "publicGetAggTrades"):
        client = keyed if "Historical" in method else exchange
        run(group, f"fetch_trades(fetchTradesMethod={method})",
            lambda method=method, client=client: client.fetch_trades(s, limit=5, params={"fetchTradesMethod": method}),
            lambda r: None if len(r) == 5 else f"{len(r)} trades", ccxt_last(client))
    run(group, "fetch_ticker(rolling 1h)", lambda: exchange.fetch_ticker(s, params={"rolling": True, "windowSize": "1h"}),
        lambda r: None if r["last"] else f"{r}", last)
    run(group, "fetch_trading_limits()", lambda: exchange.fetch_trading_limits([s]),
        lambda r: None if s in r else f"{r}", last)


# MARK: orders


def order_quantities(base, symbol):
    """A buy price 5 % under the last trade on the tick, a quantity worth twice the minimum notional."""
    import urllib.request
    from decimal import ROUND_DOWN, ROUND_UP, Decimal

    info = json.load(urllib.request.urlopen(f"{base}/api/v3/exchangeInfo?symbol={symbol}"))
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    tick = Decimal(filters["PRICE_FILTER"]["tickSize"]).normalize()
    step = Decimal(filters["LOT_SIZE"]["stepSize"]).normalize()
    notional = Decimal(filters["NOTIONAL"]["minNotional"])
    last = Decimal(json.load(urllib.request.urlopen(f"{base}/api/v3/ticker/price?symbol={symbol}"))["price"])
    low = (last * Decimal("0.95") / tick).quantize(Decimal(1), rounding=ROUND_DOWN) * tick
    quantity = (notional * 2 / low / step).quantize(Decimal(1), rounding=ROUND_UP) * step
    return str(low), str(quantity), str(last)


def connector_orders(base, symbol, key, secret):
    import binance.api
    from binance.spot import Spot

    group = "connector orders"
    server = json.load(__import__("urllib.request").request.urlopen(f"{base}/api/v3/time"))["serverTime"]
    offset = server - int(time.time() * 1000)
    # Signed requests carry the exchange's (replay) time, as a client synced on /api/v3/time does.
    binance.api.get_timestamp = lambda: int(time.time() * 1000) + offset
    client = Spot(api_key=key, api_secret=secret, base_url=base)
    last = Last()
    client.session.hooks["response"].append(last.hook)
    price, quantity, _ = order_quantities(base, symbol)
    run(group, "account()", client.account, lambda r: None if "balances" in r else f"{r}", last)
    run(group, "new_order_test(LIMIT)", lambda: client.new_order_test(symbol=symbol, side="BUY", type="LIMIT",
                                                                     timeInForce="GTC", quantity=quantity, price=price), None, last)
    placed = run(group, "new_order(LIMIT BUY)", lambda: client.new_order(symbol=symbol, side="BUY", type="LIMIT",
                                                                        timeInForce="GTC", quantity=quantity, price=price),
                 lambda r: None if r.get("status") == "NEW" else f"{r}", last)
    if placed:
        oid = placed["orderId"]
        run(group, "get_order()", lambda: client.get_order(symbol, orderId=oid), lambda r: None if r["orderId"] == oid else f"{r}", last)
        run(group, "get_open_orders()", lambda: client.get_open_orders(symbol),
            lambda r: None if any(o["orderId"] == oid for o in r) else f"{r}", last)
        run(group, "cancel_order()", lambda: client.cancel_order(symbol, orderId=oid),
            lambda r: None if r.get("status") == "CANCELED" else f"{r}", last)
    run(group, "new_order(MARKET BUY)", lambda: client.new_order(symbol=symbol, side="BUY", type="MARKET", quantity=quantity),
        lambda r: None if r.get("status") == "FILLED" and r.get("fills") else f"{r}", last)
    run(group, "new_order(MARKET SELL quoteOrderQty)", lambda: client.new_order(symbol=symbol, side="SELL", type="MARKET",
                                                                               quoteOrderQty="10"),
        lambda r: None if r.get("status") == "FILLED" else f"{r}", last)
    run(group, "get_orders()", lambda: client.get_orders(symbol), lambda r: None if r else "no orders", last)
    run(group, "my_trades()", lambda: client.my_trades(symbol), lambda r: None if r else "no trades", last)
    run(group, "new_order(LIMIT) + cancel_open_orders()", lambda: (
        client.new_order(symbol=symbol, side="BUY", type="LIMIT", timeInForce="GTC", quantity=quantity, price=price),
        client.cancel_open_orders(symbol)), lambda r: None if r[1] else f"{r}", last)
    run(group, "get_order_rate_limit()", client.get_order_rate_limit, None, last)
    run(group, "query_commission_rates()", lambda: client.query_commission_rates(symbol), None, last)


def ccxt_orders(base, symbol, key, secret):
    group = "ccxt orders"
    exchange = make_ccxt(base, key, secret)
    last = ccxt_last(exchange)
    exchange.load_markets()
    s = f"{symbol[:-4]}/USDT"
    price, quantity, _ = order_quantities(base, symbol)
    run(group, "fetch_balance()", exchange.fetch_balance, lambda r: None if "USDT" in r else f"{r}", last)
    order = run(group, "create_order(limit buy)", lambda: exchange.create_order(s, "limit", "buy", float(quantity), float(price)),
                lambda r: None if r["status"] == "open" else f"{r}", last)
    if order:
        run(group, "fetch_order()", lambda: exchange.fetch_order(order["id"], s), lambda r: None if r["id"] == order["id"] else f"{r}", last)
        run(group, "fetch_open_orders()", lambda: exchange.fetch_open_orders(s),
            lambda r: None if any(o["id"] == order["id"] for o in r) else f"{r}", last)
        run(group, "cancel_order()", lambda: exchange.cancel_order(order["id"], s),
            lambda r: None if r["status"] == "canceled" else f"{r}", last)
    run(group, "create_order(market buy)", lambda: exchange.create_order(s, "market", "buy", float(quantity)),
        lambda r: None if r["status"] == "closed" else f"{r}", last)
    run(group, "fetch_orders()", lambda: exchange.fetch_orders(s), lambda r: None if r else "no orders", last)
    run(group, "fetch_closed_orders()", lambda: exchange.fetch_closed_orders(s), lambda r: None if r else "no orders", last)
    run(group, "fetch_my_trades()", lambda: exchange.fetch_my_trades(s), lambda r: None if r else "no trades", last)
    run(group, "create_order(limit) + cancel_all_orders()", lambda: (
        exchange.create_order(s, "limit", "buy", float(quantity), float(price)), exchange.cancel_all_orders(s)),
        lambda r: None if r[1] else f"{r}", last)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--base-url", help="a running exchange, e.g. http://127.0.0.1:8765")
    where.add_argument("--start", metavar="STORE", help="start `scalper exchange --store STORE` on a free port for the run")
    parser.add_argument("--scalper", default=os.path.join(root, ".build", "debug", "scalper"), help="the scalper binary (--start)")
    parser.add_argument("--symbols", default="FILUSDT,NEARUSDT", help="two or more symbols the exchange serves")
    parser.add_argument("--orders", action="store_true", help="also try the order calls (needs --accounts)")
    parser.add_argument("--accounts", help="the exchange's accounts file (see Sources/Exchange/Accounts.swift); "
                                           "with --start and --orders and none given, one is written")
    parser.add_argument("--skip-streams", action="store_true", help="leave out the WebSocket streams")
    args = parser.parse_args()
    symbols = args.symbols.split(",")

    accounts = args.accounts
    if args.orders and not accounts:
        if not args.start:
            parser.error("--orders against a running exchange needs --accounts (the file it was started with)")
        handle, accounts = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            balances = {"USDT": "100000"}
            balances.update({x[:-4]: "10000" for x in symbols})
            json.dump({"accounts": [{"apiKey": "check-key", "secret": "check-secret", "balances": balances}]}, out)
    process = None
    base = args.base_url
    if args.start:
        process, base = start_exchange(args, accounts if args.orders else None)
        print(f"exchange: {base}", flush=True)
    try:
        connector_rest(base, symbols)
        if not args.skip_streams:
            connector_streams(base, symbols)
        ccxt_market_data(base, symbols)
        if args.orders:
            account = json.load(open(accounts))["accounts"][0]
            connector_orders(base, symbols[0], account["apiKey"], account["secret"])
            ccxt_orders(base, symbols[0], account["apiKey"], account["secret"])
    except Exception:
        traceback.print_exc()
        record("check.py", "run", False, "the checker itself failed")
    finally:
        if process:
            process.terminate()
            process.wait(timeout=10)
    passed = sum(1 for r in RESULTS if r[2])
    failed = len(RESULTS) - passed
    print(f"\n{passed} passed, {failed} failed")
    for group, call, ok, _ in RESULTS:
        if not ok:
            print(f"  FAIL {group}: {call}")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
