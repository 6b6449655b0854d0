-- Each provider's weekly schedule, as the JSON text the scheduler stored
-- (kept byte for byte, never parsed here), and `through_us`: the epoch
-- microsecond up to which its slots are published. The sweeper rolls that
-- instant forward as the horizon moves, by compare-and-set.
CREATE TABLE schedules (
    provider_id TEXT    NOT NULL PRIMARY KEY,
    json        TEXT    NOT NULL,
    through_us  INTEGER NOT NULL
) STRICT;

-- The sweeper's question, "which schedules has the horizon left behind?",
-- oldest first.
CREATE INDEX schedules_due ON schedules (through_us, provider_id);
