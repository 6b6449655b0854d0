# Sourced by .ci/run: makes sure the local PostgreSQL is up, creates a fresh
# test database and exports SCHEDULER_TEST_POSTGRES_URL for the tests.
pg_host=127.0.0.1
pg_db=scheduler_test
if ! pg_isready -q -h "$pg_host" -p 5432; then
  echo "PostgreSQL is not answering; starting the local cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$pg_host" -p 5432 && break; sleep 1; done
fi
pg_isready -h "$pg_host" -p 5432
psql -h "$pg_host" -U postgres -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" -c "CREATE DATABASE $pg_db"
export SCHEDULER_TEST_POSTGRES_URL="postgres://postgres@$pg_host:5432/$pg_db"
echo "SCHEDULER_TEST_POSTGRES_URL=$SCHEDULER_TEST_POSTGRES_URL"
