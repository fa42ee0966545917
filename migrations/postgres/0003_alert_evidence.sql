-- Resolve only on evidence, and outages as roots of other rows. Existing rows stay valid:
-- every new column is NULL for them (no root, never held, resolution not recorded).
ALTER TABLE alert_history
    -- id of the root row (an outage) this row is caused by.
    ADD COLUMN caused_by BIGINT REFERENCES alert_history (id),
    -- when the open row's evidence went missing (NULL while its condition is seen).
    ADD COLUMN held_since TIMESTAMPTZ,
    -- device_unreachable (held until the device answers) or no_data (held up to the rule's
    -- staleness budget).
    ADD COLUMN hold_reason TEXT
        CHECK (hold_reason IS NULL OR hold_reason IN ('device_unreachable', 'no_data')),
    -- how a closed row ended (recovered, rule_removed, no_data, ...); NULL while open.
    ADD COLUMN resolution TEXT,
    -- what recovery showed, in words.
    ADD COLUMN resolution_note TEXT;

CREATE INDEX alert_history_caused_by ON alert_history (caused_by) WHERE caused_by IS NOT NULL;
