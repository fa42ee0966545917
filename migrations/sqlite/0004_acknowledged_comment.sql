-- An operator's acknowledgement of an alert (POST /api/v1/alerts/{id}/ack): who and when were
-- in 0001; the optional comment they gave joins them.
ALTER TABLE alert_history ADD COLUMN acknowledged_comment TEXT;
