import GRDB

extension SessionStore {
    /// The schema. Statuses, legs and sides are the Binance words of `OrderStatus`, `OrderLeg`
    /// and `Side`; quantities and prices are exact decimal text, never REAL.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-session") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        name TEXT NOT NULL,
                        model TEXT NOT NULL,
                        profile TEXT NOT NULL,
                        config TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        resumed_at INTEGER,
                        schema_version INTEGER NOT NULL
                    );
                    -- One row: the state after the last event, that event, and the commit's number.
                    CREATE TABLE engine_state (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        kind TEXT NOT NULL,
                        state TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        last_event TEXT NOT NULL,
                        last_event_kind TEXT NOT NULL,
                        last_event_time INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE TABLE orders (
                        client_order_id TEXT PRIMARY KEY NOT NULL,
                        list_client_order_id TEXT,
                        leg TEXT NOT NULL CHECK (leg IN ('E', 'X', 'L', 'T', 'S')),
                        symbol TEXT NOT NULL,
                        side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
                        type TEXT NOT NULL,
                        time_in_force TEXT,
                        quantity TEXT NOT NULL,
                        price TEXT,
                        stop_price TEXT,
                        decision_time INTEGER NOT NULL,
                        status TEXT NOT NULL CHECK (status IN (
                            'INTENDED', 'SENDING', 'NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED',
                            'EXPIRED', 'UNKNOWN')),
                        venue_order_id INTEGER,
                        venue_time INTEGER,
                        last_reason TEXT,
                        request TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX orders_status ON orders (status);
                    CREATE INDEX orders_list ON orders (list_client_order_id) WHERE list_client_order_id IS NOT NULL;
                    -- A venue trade id is unique per symbol: a repeated fill is stored once.
                    CREATE TABLE fills (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        symbol TEXT NOT NULL,
                        trade_id INTEGER NOT NULL,
                        client_order_id TEXT NOT NULL,
                        price TEXT NOT NULL,
                        quantity TEXT NOT NULL,
                        commission TEXT NOT NULL,
                        commission_asset TEXT NOT NULL CHECK (commission_asset IN ('base', 'quote')),
                        time INTEGER NOT NULL,
                        recorded_at INTEGER NOT NULL,
                        UNIQUE (symbol, trade_id)
                    );
                    CREATE INDEX fills_order ON fills (client_order_id);
                    -- Cancels asked for; answered once the target (every leg of a list) is final.
                    CREATE TABLE cancels (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        target TEXT NOT NULL,
                        is_list INTEGER NOT NULL CHECK (is_list IN (0, 1)),
                        symbol TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        requested_at INTEGER NOT NULL,
                        answered_at INTEGER
                    );
                    CREATE INDEX cancels_open ON cancels (target) WHERE answered_at IS NULL;
                    -- What the engine recorded: signals, refusals, trades, equity, the kill switch, anomalies.
                    CREATE TABLE records (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        sequence INTEGER NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('signal', 'refused', 'trade', 'equity', 'kill-switch', 'anomaly')),
                        time INTEGER NOT NULL,
                        symbol TEXT,
                        reason TEXT,
                        value REAL,
                        record TEXT NOT NULL
                    );
                    CREATE INDEX records_kind_time ON records (kind, time);
                    CREATE INDEX records_sequence ON records (sequence);
                    CREATE TABLE controls (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        control TEXT NOT NULL CHECK (control IN ('pause', 'resume', 'reset-kill-switch', 'close-all')),
                        requested_at INTEGER NOT NULL,
                        applied_at INTEGER,
                        applied_sequence INTEGER
                    );
                    CREATE INDEX controls_pending ON controls (id) WHERE applied_at IS NULL;
                    """
            )
        }
        // The live book's features at each bar a session scored, for future training (v2).
        migrator.registerMigration("v2-book-features") { db in
            try db.execute(
                sql: """
                    CREATE TABLE book_features (
                        symbol TEXT NOT NULL,
                        open_time INTEGER NOT NULL,
                        update_id INTEGER NOT NULL,
                        last_trade_id INTEGER,
                        features TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        PRIMARY KEY (symbol, open_time)
                    ) WITHOUT ROWID;
                    """
            )
        }
        return migrator
    }
}
