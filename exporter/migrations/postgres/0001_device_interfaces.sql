-- The exporter's interface inventory: one row per (device, ifIndex), written on discovery and
-- on status changes. Applied by wardflux-exporter (its own table wardflux_exporter_migrations,
-- never sqlx's _sqlx_migrations, so it can share a database with wardflux-ruler).
CREATE TABLE device_interfaces (
    id                         BIGSERIAL PRIMARY KEY,
    device_name                TEXT NOT NULL,
    -- The inventory's id of the device (targets_sql `id` column), for JOIN standalone_devices.
    device_id                  BIGINT,
    if_index                   BIGINT NOT NULL,
    if_name                    TEXT NOT NULL DEFAULT '',
    if_descr                   TEXT NOT NULL DEFAULT '',
    if_alias                   TEXT NOT NULL DEFAULT '',
    if_type                    INTEGER NOT NULL DEFAULT 0,
    if_mtu                     INTEGER,
    interface_type             TEXT NOT NULL DEFAULT 'unknown',
    isp_provider               TEXT,
    is_critical                BOOLEAN NOT NULL DEFAULT false,
    monitored                  BOOLEAN NOT NULL DEFAULT true,
    classification_rule        TEXT NOT NULL DEFAULT '',
    classification_confidence  REAL NOT NULL DEFAULT 0,
    admin_status               TEXT NOT NULL DEFAULT 'unknown',
    oper_status                TEXT NOT NULL DEFAULT 'unknown',
    -- bit/s (ifHighSpeed * 1e6 when known, else ifSpeed).
    speed                      BIGINT NOT NULL DEFAULT 0,
    duplex                     TEXT,
    mac_address                TEXT NOT NULL DEFAULT '',
    connected_to_device        TEXT,
    connected_to_interface     TEXT,
    lldp_neighbor_name         TEXT,
    lldp_neighbor_port         TEXT,
    discovered_at              TIMESTAMPTZ NOT NULL,
    last_seen                  TIMESTAMPTZ NOT NULL,
    last_status_change         TIMESTAMPTZ,
    enabled                    BOOLEAN NOT NULL DEFAULT true,
    CONSTRAINT device_interfaces_device_if UNIQUE (device_name, if_index)
);

CREATE INDEX idx_device_interfaces_device ON device_interfaces (device_name);
CREATE INDEX idx_device_interfaces_device_id ON device_interfaces (device_id);
CREATE INDEX idx_device_interfaces_type ON device_interfaces (interface_type);
CREATE INDEX idx_device_interfaces_isp ON device_interfaces (isp_provider) WHERE isp_provider IS NOT NULL;
CREATE INDEX idx_device_interfaces_critical ON device_interfaces (is_critical) WHERE is_critical;
CREATE INDEX idx_device_interfaces_status ON device_interfaces (oper_status);
CREATE INDEX idx_device_interfaces_connected ON device_interfaces (connected_to_device);
CREATE INDEX idx_device_interfaces_disabled ON device_interfaces (last_seen) WHERE NOT enabled;
