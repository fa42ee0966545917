-- One row per firing episode of an alert: inserted when it fires, closed when it resolves.
-- Timestamps are RFC 3339 text in UTC; labels and annotations are JSON text.
CREATE TABLE alert_history (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_name        TEXT NOT NULL,
    group_name        TEXT NOT NULL,
    fingerprint       TEXT NOT NULL,
    severity          TEXT NOT NULL DEFAULT '',
    device            TEXT NOT NULL DEFAULT '',
    if_name           TEXT NOT NULL DEFAULT '',
    interface_type    TEXT NOT NULL DEFAULT '',
    isp_provider      TEXT NOT NULL DEFAULT '',
    message           TEXT NOT NULL DEFAULT '',
    value             REAL,
    labels            TEXT NOT NULL DEFAULT '{}',
    annotations       TEXT NOT NULL DEFAULT '{}',
    state             TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    started_at        TEXT NOT NULL,
    resolved_at       TEXT,
    last_evaluated_at TEXT NOT NULL,
    acknowledged_at   TEXT,
    acknowledged_by   TEXT,
    -- An episode is its fingerprint and start: a retried insert can never duplicate it.
    CONSTRAINT alert_history_episode UNIQUE (fingerprint, started_at)
);

-- At most one open episode per label set.
CREATE UNIQUE INDEX alert_history_open ON alert_history (fingerprint) WHERE resolved_at IS NULL;
CREATE INDEX alert_history_started_at ON alert_history (started_at);
CREATE INDEX alert_history_device ON alert_history (device, started_at);
