// Package deploytest checks the deployment files against the code, since no Docker engine or Kubernetes cluster
// runs in CI: docker-compose.yml, the Dockerfile, deploy/k8s, and the Prometheus, Alertmanager and Grafana configs.
// The truth comes from the binaries themselves: the tests build them with the Dockerfile's own go build command
// and read their --help for flags and environment variables. Then every flag, variable, file, port, service name
// and secret the deployment files use must exist and agree; promtool and amtool check the shipped configs; and the
// compose-only binaries (regiond, demoseed, healthcheck) run against a real etcd and the Kong stand-in. The shipped
// binaries (worker, starter) must link no dev code: no embedded Temporal or etcd server, nothing from testsuite/.
package deploytest
