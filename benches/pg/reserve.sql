-- pgbench transaction: hold one random slot if it is free, in one statement,
-- the floor under any reserve route on PostgreSQL (one round trip, one row
-- lock, one WAL flush at commit).
\set n random(0, 999999)
UPDATE pgbench_slots
   SET status = 'held', client_id = 'bench-client', expires_us = 1800000000000000
 WHERE provider_id = 'bench-pgbench'
   AND start_s = 1800000000::bigint + 900 * :n
   AND status IS NULL
RETURNING start_s;
