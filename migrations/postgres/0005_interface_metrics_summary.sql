-- 24-hour statistics per interface, computed by wardflux-ruler from VictoriaMetrics every
-- --summary.interval (15m) and upserted: one row per (device_name, if_index), so the bank's UI
-- and SQL read them without time-series queries. Mbps are 10^6 bit/s, GB 10^9 bytes; error
-- rate is errored packets (in + out) in percent of packets (in + out); utilisation is the
-- busier direction's traffic in percent of the speed (ifHighSpeed, else ifSpeed). NULL means
-- undefined (no packets, no speed, no data), never "the datasource failed": a failed run
-- writes nothing. Rows not refreshed for --summary.retention (7d) are deleted.
CREATE TABLE interface_metrics_summary (
    id              BIGSERIAL PRIMARY KEY,
    device_name     TEXT NOT NULL,
    if_index        BIGINT NOT NULL,
    if_name         TEXT NOT NULL DEFAULT '',
    site            TEXT,
    interface_type  TEXT,
    isp_provider    TEXT,
    window_start    TIMESTAMPTZ NOT NULL,
    window_end      TIMESTAMPTZ NOT NULL,
    avg_in_mbps     DOUBLE PRECISION,
    max_in_mbps     DOUBLE PRECISION,
    avg_out_mbps    DOUBLE PRECISION,
    max_out_mbps    DOUBLE PRECISION,
    total_in_gb     DOUBLE PRECISION,
    total_out_gb    DOUBLE PRECISION,
    avg_error_rate  DOUBLE PRECISION,
    max_error_rate  DOUBLE PRECISION,
    avg_utilization DOUBLE PRECISION,
    max_utilization DOUBLE PRECISION,
    -- counter samples of the interface's inbound octets in the window (coverage).
    samples         INTEGER,
    calculated_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT interface_metrics_summary_device_if UNIQUE (device_name, if_index)
);

CREATE INDEX idx_interface_metrics_summary_device ON interface_metrics_summary (device_name);
CREATE INDEX idx_interface_metrics_summary_calculated_at ON interface_metrics_summary (calculated_at);
