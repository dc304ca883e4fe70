#!/bin/sh
# Creates or upgrades Temporal's two PostgreSQL databases (temporal, temporal_visibility). Run by the compose
# service temporal-schema (image temporalio/admin-tools) before the server starts. Every step is idempotent: on
# an existing database it only applies the schema versions the server image needs.
set -eu
: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
SQL_PASSWORD="$(cat "${POSTGRES_PASSWORD_FILE:?set POSTGRES_PASSWORD_FILE to the file holding the password}")"
export SQL_PASSWORD
port="${DB_PORT:-5432}"
schema_dir=/etc/temporal/schema/postgresql/v12

for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  sql="temporal-sql-tool --plugin postgres12 --ep $POSTGRES_SEEDS -p $port -u $POSTGRES_USER --db $db"
  $sql create
  $sql setup-schema -v 0.0
  $sql update-schema -d "$schema_dir/$dir/versioned"
done
echo "temporal schema: up to date"
