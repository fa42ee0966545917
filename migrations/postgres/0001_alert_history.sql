-- One row per firing episode of an alert: inserted when it fires, closed when it resolves.
CREATE TABLE alert_history (
    id                BIGSERIAL PRIMARY KEY,
    alert_name        TEXT NOT NULL,
    group_name        TEXT NOT NULL,
    fingerprint       TEXT NOT NULL,
    severity          TEXT NOT NULL DEFAULT '',
    device            TEXT NOT NULL DEFAULT '',
    if_name           TEXT NOT NULL DEFAULT '',
    interface_type    TEXT NOT NULL DEFAULT '',
    isp_provider      TEXT NOT NULL DEFAULT '',
    message           TEXT NOT NULL DEFAULT '',
    value             DOUBLE PRECISION,
    labels            JSONB NOT NULL DEFAULT '{}',
    annotations       JSONB NOT NULL DEFAULT '{}',
    state             TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    started_at        TIMESTAMPTZ NOT NULL,
    resolved_at       TIMESTAMPTZ,
    last_evaluated_at TIMESTAMPTZ NOT NULL,
    acknowledged_at   TIMESTAMPTZ,
    acknowledged_by   TEXT,
    -- An episode is its fingerprint and start: a retried insert can never duplicate it.
    CONSTRAINT alert_history_episode UNIQUE (fingerprint, started_at)
);

-- At most one open episode per label set.
CREATE UNIQUE INDEX alert_history_open ON alert_history (fingerprint) WHERE resolved_at IS NULL;
CREATE INDEX alert_history_started_at ON alert_history (started_at);
CREATE INDEX alert_history_device ON alert_history (device, started_at);
