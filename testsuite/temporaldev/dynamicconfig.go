package temporaldev

import (
	"go.temporal.io/server/common/dynamicconfig"
)

// devDynamicConfig is devSettings in a client that can change a setting while the server runs.
func devDynamicConfig() *dynamicconfig.MemoryClient {
	c := dynamicconfig.NewMemoryClient()
	for key, value := range devSettings() {
		c.OverrideValue(key, value)
	}
	return c
}

// devSettings trade the production defaults, tuned for many shards and hosts sharing a
// database, for the latency of a single-process server that one developer or test drives.
func devSettings() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// With one history shard every task goes through one queue per category, and the
		// default 20 polls/s made a 3-activity workflow take ~200 ms instead of ~25 ms.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():       1000,
		dynamicconfig.TransferProcessorMaxPollHostRPS.Key():   1000,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key():     1000, // ListWorkflows sees changes sooner
		dynamicconfig.VisibilityProcessorMaxPollHostRPS.Key(): 1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():          1000, // timers and activity timeouts
		dynamicconfig.TimerProcessorMaxPollHostRPS.Key():      1000,

		// Nexus endpoints are usable the moment they are created instead of after a cache refresh.
		// Bypassing the cache costs extra reads, hence the higher persistence limits (the same ratio
		// as the defaults, as the temporal CLI does). Search attributes are registered with the
		// namespace before the server starts (prepareSQLite), so their caches are right from the
		// start: forcing a refresh on every read of them (the temporal CLI's choice) read the
		// namespace and the cluster metadata from SQLite each time history was served or a search
		// attribute written, 213 reads per failover under an evacuation. Only when Start has to add
		// one to a running server (an older DBFile) does it force refreshes (Server.registerSearchAttributes).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): false,
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key():         true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():               10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                45000,

		// The Web UI and tests that poll ListWorkflows easily exceed 10 visibility calls/s.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,

		// The failover workflow takes decisions through Updates and UpdateWithStart. Both are on
		// by default in this server version; pinning them keeps a default change from breaking it.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,

		// Worker Versioning (pinned failovers, workflows/deployment.go): on by default in this server version;
		// pinned for the same reason. Its deployment workflows run in the server's worker service.
		dynamicconfig.EnableDeploymentVersions.Key():                   true,
		dynamicconfig.FrontendEnableWorkerVersioningWorkflowAPIs.Key(): true,

		// Eager dispatch (workflows/cost.go): a failover started next to its worker gets its first workflow task,
		// and a workflow task's activities go to the worker that scheduled them, in the server's answer instead
		// of through a task queue poll. On by default in this server version; pinned for the same reason.
		dynamicconfig.EnableEagerWorkflowStart.Key():     true,
		dynamicconfig.EnableActivityEagerExecution.Key(): true,

		// One partition per task queue: with the default four, a task written to a partition no poller is
		// waiting on is forwarded or backlogged, and under an evacuation's hundreds of concurrent failovers an
		// activity waited seconds to start (BenchmarkEvacuation: a 1-activity reroute step took 7 s).
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,

		// A dev box needs a fraction of the default 128k cached workflows.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
		// The events cache (start events, scheduled activities and children, read again when they complete) is per
		// shard, 512 KB by default: a production cluster has hundreds of shards, this server one. Under an
		// evacuation's hundreds of running failovers, each carrying its plan in its start event, 512 KB held a
		// fraction of them and every miss read the history from SQLite again.
		dynamicconfig.EventsCacheMaxSizeBytes.Key(): 64 << 20,

		// The scanners (task queue and history garbage collection, for clusters that run for
		// months) and the parent-close-policy workers are SDK workers the server never stops:
		// with them on, each Stop left ~100 goroutines polling a closed port. Without the
		// workers, history applies parent close policies itself, whatever the number of children.
		dynamicconfig.TaskQueueScannerEnabled.Key():       false,
		dynamicconfig.HistoryScannerEnabled.Key():         false,
		dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
	}
}
