-- Interface settings changed through the API (PATCH /api/v1/interfaces/{device}/{ifIndex}) and
-- their audit trail, when the exporter has an inventory store (otherwise they live in
-- NAME.interface-edits.json and NAME.interface-edits.audit.jsonl beside the config).
-- An edit is kept by device and ifName, so it follows the port when a reboot renumbers ifIndex;
-- if_index is the port's ifIndex when it was last edited. A NULL field is not edited (the rules
-- and config overrides decide it).
CREATE TABLE interface_edits (
    id               BIGSERIAL PRIMARY KEY,
    device_name      TEXT NOT NULL,
    if_name          TEXT NOT NULL,
    if_index         BIGINT NOT NULL,
    interface_type   TEXT,
    isp_provider     TEXT,
    is_critical      BOOLEAN,
    monitored        BOOLEAN,
    edited_by        TEXT NOT NULL,
    edited_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT interface_edits_device_port UNIQUE (device_name, if_name)
);

CREATE INDEX idx_interface_edits_device_if ON interface_edits (device_name, if_index);

-- One row per change: who (the basic-auth user), when, what the port showed before
-- (old_values) and after (new_values), and the edit before and after (JSON objects of the
-- four settings). action: patch, delete, or import (an edits file taken over once).
CREATE TABLE interface_edit_audit (
    id               BIGSERIAL PRIMARY KEY,
    at               TIMESTAMPTZ NOT NULL,
    edited_by        TEXT NOT NULL,
    action           TEXT NOT NULL,
    device_name      TEXT NOT NULL,
    if_name          TEXT NOT NULL,
    if_index         BIGINT NOT NULL,
    old_values       JSONB,
    new_values       JSONB,
    edit_before      JSONB,
    edit_after       JSONB
);

CREATE INDEX idx_interface_edit_audit_port ON interface_edit_audit (device_name, if_index, at);
CREATE INDEX idx_interface_edit_audit_at ON interface_edit_audit (at);
