-- Learned hour-of-week traffic statistics per interface and direction (Mbps).
-- day_of_week 0 = Monday; hours are local time in the zone named in timezone.
CREATE TABLE interface_baselines (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    device       TEXT NOT NULL,
    if_name      TEXT NOT NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    day_of_week  INTEGER NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
    hour_of_day  INTEGER NOT NULL CHECK (hour_of_day BETWEEN 0 AND 23),
    mean         REAL NOT NULL,
    std_dev      REAL NOT NULL,
    min_value    REAL NOT NULL,
    max_value    REAL NOT NULL,
    median       REAL NOT NULL,
    mad          REAL NOT NULL,
    sample_count INTEGER NOT NULL,
    confidence   REAL NOT NULL,
    timezone     TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    -- One row per interface, direction and hour of the week; bucket first, so the same index
    -- serves detection, which reads every interface of one bucket.
    CONSTRAINT interface_baselines_bucket UNIQUE (day_of_week, hour_of_day, device, if_name, direction)
);
