-- Resolve only on evidence, and outages as roots of other rows. Existing rows stay valid:
-- every new column is NULL for them (no root, never held, resolution not recorded).
-- caused_by: id of the root row (an outage) this row is caused by.
ALTER TABLE alert_history ADD COLUMN caused_by INTEGER REFERENCES alert_history (id);
-- held_since: when the open row's evidence went missing (NULL while its condition is seen).
ALTER TABLE alert_history ADD COLUMN held_since TEXT;
-- hold_reason: device_unreachable (held until the device answers) or no_data (held up to the
-- rule's staleness budget).
ALTER TABLE alert_history ADD COLUMN hold_reason TEXT
    CHECK (hold_reason IS NULL OR hold_reason IN ('device_unreachable', 'no_data'));
-- resolution: how a closed row ended (recovered, rule_removed, no_data, ...); NULL while open.
ALTER TABLE alert_history ADD COLUMN resolution TEXT;
-- resolution_note: what recovery showed, in words.
ALTER TABLE alert_history ADD COLUMN resolution_note TEXT;

CREATE INDEX alert_history_caused_by ON alert_history (caused_by) WHERE caused_by IS NOT NULL;
