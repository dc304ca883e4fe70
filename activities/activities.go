// Package activities holds the failover's side effects, one external system per file. Every activity may run
// twice after a crash, so each one converges: it compares before it writes, fences etcd writes on revisions and
// PUTs desired state to Kong.
package activities

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kong/go-kong/kong"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/probe"
)

// Activities carries the clients every activity needs. The worker builds it once from its config, so credentials
// never pass through workflow inputs or history.
type Activities struct {
	Etcd   *clientv3.Client
	Kong   *kong.Client
	HTTP   *http.Client
	Logger *slog.Logger
	// Audit, when set, receives one JSON record per failover event.
	Audit *AuditLog
	// Publishers receive every failover event (Slack, ...).
	Publishers []Publisher
	// Temporal, when set, lets AwaitFailover wait for a failover an evacuation joined and tells a drill whether a
	// real failover of its service is in flight (FailoverInFlight); a real failover pauses its service's drill
	// schedules with it while it runs (PauseDrillSchedules). client.Client is one.
	Temporal TemporalClient
	// DrillIndexMaxAge is how old the worker's last list of schedules may be for a failover's pause to use it
	// (drillindex.go): 0 means DefaultDrillIndexMaxAge, a negative value lists for every pause.
	DrillIndexMaxAge time.Duration
	// DrillHooks are the command hooks drills may run on this worker (worker --drill-hooks); nil declares none.
	DrillHooks *CommandHooks

	promMu sync.Mutex
	prom   map[string]promAPI

	drills drillIndex

	proberOnce sync.Once
	prober     *probe.Prober
}

// Error types that retries cannot fix; the workflow matches on them.
const (
	ErrFenced        = "Fenced"
	ErrAcksTimeout   = "AcksTimeout"
	ErrBadInput      = "BadInput"
	ErrKongRejected  = "KongRejected"
	ErrWarmupFailed  = "WarmupFailed"
	ErrTargetMissing = "KongTargetMissing"
)

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.Default()
	}
	return a.Logger
}

func (a *Activities) httpClient() *http.Client {
	if a.HTTP == nil {
		return http.DefaultClient
	}
	return a.HTTP
}

func badInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrBadInput, nil)
}

// heartbeat records progress when running as an activity; the same code also runs directly (dry runs, benchmarks).
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}
