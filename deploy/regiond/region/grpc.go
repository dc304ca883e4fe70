package region

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/failover/failover/probe"
)

// grpcHealth serves grpc.health.v1 (grpc-go's own health server) on its own listener: SERVING for "" and the
// service's name while no fault status is injected, NOT_SERVING while one is. Injected latency and dropped
// observers apply to it as to /healthz.
type grpcHealth struct {
	ln     net.Listener
	srv    *grpc.Server
	health *health.Server
}

func (s *Server) startGRPC(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("region %s: gRPC health listen on %s: %w", s.region, addr, err)
	}
	g := &grpcHealth{ln: ln, health: health.NewServer()}
	g.srv = grpc.NewServer(grpc.UnaryInterceptor(s.grpcFaults))
	healthpb.RegisterHealthServer(g.srv, g.health)
	s.grpc = g
	s.syncGRPCHealth()
	go g.srv.Serve(ln)
	return nil
}

// GRPCAddr is the gRPC health server's host:port, or "" when it is not served.
func (s *Server) GRPCAddr() string {
	if s.grpc == nil {
		return ""
	}
	return s.grpc.ln.Addr().String()
}

// syncGRPCHealth sets the serving status from the injected fault.
func (s *Server) syncGRPCHealth() {
	if s.grpc == nil {
		return
	}
	st := healthpb.HealthCheckResponse_SERVING
	if s.currentFault().Status >= 300 {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.grpc.health.SetServingStatus("", st)
	s.grpc.health.SetServingStatus(s.service, st)
}

// grpcFaults applies the injected latency and drops a dropped observer's calls (no answer until its deadline).
func (s *Server) grpcFaults(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if d := s.currentFault().DropObserver; d != "" && slices.Contains(md.Get(strings.ToLower(probe.ObserverHeader)), d) {
		<-ctx.Done()
		return nil, status.Error(codes.DeadlineExceeded, "dropped")
	}
	if !wait(ctx, time.Duration(s.currentFault().LatencyMS)*time.Millisecond) {
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return next(ctx, req)
}

func (g *grpcHealth) stop() {
	g.health.Shutdown()
	g.srv.Stop()
}
