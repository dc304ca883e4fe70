package follow_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/failover/failover/follow"
)

// A region service follows its active-region key: the handler applies each cutover, the HTTP handlers read the
// applied value with Current, and /metrics exposes the follow_* metrics.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// The orchestrator's etcd settings, from the environment: ETCD_ENDPOINTS, and for a secured etcd ETCD_CA_CERT,
	// ETCD_CERT/ETCD_KEY (mutual TLS; re-read when rotated) and ETCD_USERNAME with ETCD_PASSWORD_FILE. The client
	// notices a half-open connection within seconds and finds a restarted etcd quickly.
	etcd, err := follow.EtcdFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	cli, err := etcd.Client(ctx)
	if err != nil {
		log.Fatal(err) // one line naming the variable to fix: wrong CA, refused certificate, rejected password
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
