-- 24-hour statistics per interface, computed by wardflux-ruler from VictoriaMetrics every
-- --summary.interval (15m) and upserted: one row per (device_name, if_index), so the bank's UI
-- and SQL read them without time-series queries. Mbps are 10^6 bit/s, GB 10^9 bytes; error
-- rate is errored packets (in + out) in percent of packets (in + out); utilisation is the
-- busier direction's traffic in percent of the speed (ifHighSpeed, else ifSpeed). NULL means
-- undefined (no packets, no speed, no data), never "the datasource failed": a failed run
-- writes nothing. Rows not refreshed for --summary.retention (7d) are deleted.
-- SQLite: timestamps are RFC 3339 text in UTC.
CREATE TABLE interface_metrics_summary (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    device_name     TEXT NOT NULL,
    if_index        INTEGER NOT NULL,
    if_name         TEXT NOT NULL DEFAULT '',
    site            TEXT,
    interface_type  TEXT,
    isp_provider    TEXT,
    window_start    TEXT NOT NULL,
    window_end      TEXT NOT NULL,
    avg_in_mbps     REAL,
    max_in_mbps     REAL,
    avg_out_mbps    REAL,
    max_out_mbps    REAL,
    total_in_gb     REAL,
    total_out_gb    REAL,
    avg_error_rate  REAL,
    max_error_rate  REAL,
    avg_utilization REAL,
    max_utilization REAL,
    -- counter samples of the interface's inbound octets in the window (coverage).
    samples         INTEGER,
    calculated_at   TEXT NOT NULL,
    CONSTRAINT interface_metrics_summary_device_if UNIQUE (device_name, if_index)
);

CREATE INDEX idx_interface_metrics_summary_device ON interface_metrics_summary (device_name);
CREATE INDEX idx_interface_metrics_summary_calculated_at ON interface_metrics_summary (calculated_at);
