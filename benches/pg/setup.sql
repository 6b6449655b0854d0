-- The table pgbench's reserve.sql holds slots in: one row per slot, a hold is
-- a conditional UPDATE of the row. Run by benches/http/run.sh in the database
-- the server's PostgreSQL store uses, so both share one server and one run.
SET client_min_messages = warning;
DROP TABLE IF EXISTS pgbench_slots;
CREATE TABLE pgbench_slots (
    provider_id text   NOT NULL,
    start_s     bigint NOT NULL,
    status      text,
    client_id   text,
    expires_us  bigint,
    PRIMARY KEY (provider_id, start_s)
);
-- 1,000,000 slots 15 minutes apart, as many as the server's store holds.
INSERT INTO pgbench_slots (provider_id, start_s)
SELECT 'bench-pgbench', 1800000000::bigint + 900 * g FROM generate_series(0, 999999) AS g;
VACUUM ANALYZE pgbench_slots;
