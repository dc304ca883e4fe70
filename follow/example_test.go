package follow_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/failover/failover/follow"
)

// A region service follows its active-region key: the handler applies each cutover, the HTTP handlers read the
// applied value with Current, and /metrics exposes the follow_* metrics.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"127.0.0.1:2379"},
		DialTimeout: 5 * time.Second,
		// Notice a half-open connection (a dead peer that never sent a reset) within seconds.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		// gRPC's default reconnect backoff grows to 2 minutes; cap it so a restarted etcd is found quickly.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		})},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()

	host, _ := os.Hostname()
	reg := prometheus.NewRegistry()
	f, err := follow.New(follow.Config{
		Client:     cli,
		Key:        "/failover/payments/active",
		AckPrefix:  "/failover/payments/acks/",
		Instance:   host,
		CacheFile:  "/var/lib/payments/active-region.json",
		Registerer: reg,
	}, func(ctx context.Context, a follow.Active) error {
		// Apply the cutover: drain, switch the primary, warm caches... An error means "not yet": the same value
		// comes back after a backoff, and the orchestrator sees no ack for this epoch until this returns nil. If a
		// newer epoch (say, the rollback) arrives while this one keeps failing, ctx is cancelled and the newer one
		// is delivered instead; this one is never acked.
		slog.Info("active region changed", "region", a.Region, "epoch", a.Epoch)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	go f.Run(ctx) // returns when ctx ends; etcd outages are ridden out inside

	myRegion := "eu-west"
	http.HandleFunc("/pay", func(w http.ResponseWriter, r *http.Request) {
		a, st := f.Current()
		if !st.Known {
			http.Error(w, "active region not known yet", http.StatusServiceUnavailable)
			return
		}
		if st.Stale {
			// Keep serving the last confirmed value through an etcd outage, but say so.
			w.Header().Set("X-Active-Region-Stale", "true")
		}
		if a.Region != myRegion {
			http.Error(w, "not the active region: "+a.Region, http.StatusMisdirectedRequest)
			return
		}
		fmt.Fprintln(w, "paid")
	})
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: ":8080"}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
