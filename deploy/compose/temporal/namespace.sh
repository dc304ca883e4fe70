#!/bin/sh
# Creates the Temporal namespace the failover binaries use and registers the search attributes the failover
# workflow writes (workflows.SearchAttributes(); deploy/deploytest checks this list against it). Run by the compose
# service temporal-namespace (image temporalio/admin-tools) once the server is up. Idempotent: an existing
# namespace or search attribute is left as it is.
#
# On an existing cluster run the same two commands once per namespace; on Temporal Cloud add the search attributes
# with `tcld namespace search-attributes add` or in the Cloud UI instead.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the frontend host:port}"

attempt=0
until temporal operator cluster health >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  [ "$attempt" -lt 60 ] || { echo "temporal at $TEMPORAL_ADDRESS not healthy after 60 tries" >&2; exit 1; }
  sleep 2
done

if ! temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  temporal operator namespace create --namespace "$ns" --retention 720h
fi

# A new namespace takes a moment to reach every frontend's cache: retry until the attributes are in.
attempt=0
until temporal operator search-attribute create --namespace "$ns" \
  --name FailoverService --type Keyword \
  --name FailoverFrom --type Keyword \
  --name FailoverTo --type Keyword \
  --name FailoverStep --type Keyword \
  --name FailoverOutcome --type Keyword \
  --name FailoverDrill --type Bool; do
  attempt=$((attempt + 1))
  [ "$attempt" -lt 30 ] || { echo "could not register search attributes on namespace $ns" >&2; exit 1; }
  sleep 2
done
echo "temporal namespace $ns: ready with the failover search attributes"
