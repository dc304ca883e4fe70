package kongstandin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Messages of Kong's proxy errors (kong/runloop/handler.lua, kong/runloop/balancer, kong/error_handlers.lua).
const (
	msgNoRoute       = "no Route matched with those values"
	msgNoPeer        = "failure to get a peer from the ring-balancer"
	msgBadUpstream   = "An invalid response was received from the upstream server"
	msgUpstreamSlow  = "The upstream server is timing out"
	msgUseHTTPS      = "Please use HTTPS protocol"
	maxProxyBodySize = 64 << 20
)

// hopHeaders are not forwarded in either direction (RFC 9110 §7.6.1).
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade",
}

type connectTimeoutKey struct{}

func newProxyTransport() *http.Transport {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && d > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			return dialer.DialContext(ctx, network, addr)
		},
		// Kong does not verify upstream certificates unless tls_verify is set; the stand-in never does.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test stand-in
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
}

// serveProxy is Kong's proxy: route, balance, forward, with Kong's headers and error bodies.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.totalRequests.Add(1)
	rid := newRequestID()
	cfg := s.store.proxyView(start)
	cand, prefix := cfg.getRouter().match(r, s.proxyPort)
	if cand == nil {
		s.proxyError(w, start, rid, http.StatusNotFound, msgNoRoute)
		return
	}
	rt := cand.route
	if !slices.Contains(rt.Protocols, "http") {
		s.proxyError(w, start, rid, *rt.HTTPSRedirectStatusCode, msgUseHTTPS)
		return
	}
	svc := cand.svc
	if svc == nil {
		s.proxyError(w, start, rid, http.StatusServiceUnavailable, "Service unavailable")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxyBodySize))
	if err != nil {
		s.proxyError(w, start, rid, http.StatusBadRequest, "Bad request")
		return
	}
	base := "/"
	if svc.Path != nil {
		base = *svc.Path
	}
	uri := upstreamURI(*rt.StripPath, prefix, reqPath(r), base)
	if r.URL.RawQuery != "" {
		uri += "?" + r.URL.RawQuery
	}
	scheme := "http"
	if *svc.Protocol == "https" {
		scheme = "https"
	}
	up := cfg.upstreamByName(*svc.Host)
	tries := 1 + intOr(svc.Retries, 5)
	failedPeers := map[string]bool{}
	if up != nil {
		failedPeers = s.unhealthyTargets(cfg, up) // the health checker's verdict: no traffic, whatever the weight
	}
	for try := 1; ; try++ {
		host, port, hostHeader := *svc.Host, *svc.Port, ""
		if up != nil {
			p, found := s.balancers.pick(cfg, up, failedPeers)
			if !found {
				if try == 1 {
					s.proxyError(w, start, rid, http.StatusServiceUnavailable, msgNoPeer)
				} else {
					s.proxyError(w, start, rid, http.StatusBadGateway, msgBadUpstream)
				}
				return
			}
			host, port = p.host, p.port
			if up.HostHeader != nil {
				hostHeader = *up.HostHeader
			}
		}
		if hostHeader == "" {
			hostHeader = defaultHostHeader(host, port, scheme)
		}
		if *rt.PreserveHost {
			hostHeader = r.Host
		}
		addr := net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
		out, cancel := s.outboundRequest(r, svc, scheme, addr, hostHeader, uri, prefix, *rt.StripPath, body, rid)
		sent := time.Now()
		res, timedOut, err := s.roundTrip(out, svc)
		if err != nil {
			cancel()
			var opErr *net.OpError
			if errors.As(err, &opErr) && opErr.Op == "dial" && !timedOut && try < tries {
				failedPeers[host+":"+strconv.Itoa(port)] = true
				s.log.Debug("kong proxy retry", "addr", addr, "try", try, "err", err)
				continue
			}
			s.log.Warn("kong proxy upstream error", "addr", addr, "err", err)
			if timedOut || errors.Is(err, context.DeadlineExceeded) {
				s.proxyError(w, start, rid, http.StatusGatewayTimeout, msgUpstreamSlow)
			} else {
				s.proxyError(w, start, rid, http.StatusBadGateway, msgBadUpstream)
			}
			return
		}
		s.copyResponse(w, res, start, sent, rid)
		_ = res.Body.Close()
		cancel()
		return
	}
}

// intOr reads an optional schema field that a client may have set to null, falling back to Kong's default.
func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func reqPath(r *http.Request) string {
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// defaultHostHeader is Kong's set_host_header: the target host, with the port unless it is the scheme's default.
func defaultHostHeader(host string, port int, scheme string) string {
	if (port == 80 && scheme == "http") || (port == 443 && scheme == "https") {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

func (s *Server) outboundRequest(r *http.Request, svc *service, scheme, addr, hostHeader, uri, prefix string,
	stripped bool, body []byte, rid string) (*http.Request, context.CancelFunc) {
	ctx := context.WithValue(r.Context(), connectTimeoutKey{}, time.Duration(intOr(svc.ConnectTimeout, 60000))*time.Millisecond)
	ctx, cancel := context.WithCancel(ctx)
	out, _ := http.NewRequestWithContext(ctx, r.Method, scheme+"://"+addr+uri, bytes.NewReader(body))
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = hostHeader
	out.ContentLength = int64(len(body))
	clientIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		out.Header.Set("X-Forwarded-For", prior+", "+clientIP)
	} else {
		out.Header.Set("X-Forwarded-For", clientIP)
	}
	reqHost := r.Host
	if h, _, err := net.SplitHostPort(reqHost); err == nil {
		reqHost = h
	}
	out.Header.Set("X-Forwarded-Proto", "http")
	out.Header.Set("X-Forwarded-Host", reqHost)
	out.Header.Set("X-Forwarded-Port", s.proxyPort)
	out.Header.Set("X-Forwarded-Path", reqPath(r))
	if stripped && prefix != "" && prefix != "/" {
		out.Header.Set("X-Forwarded-Prefix", prefix)
	}
	out.Header.Set("X-Real-IP", clientIP)
	out.Header.Set("X-Kong-Request-Id", rid)
	return out, cancel
}

// roundTrip sends the request, failing with timedOut when the upstream sends no response headers within the
// service's read_timeout (Kong's read_timeout bounds each read; the stand-in bounds the wait for the headers).
func (s *Server) roundTrip(out *http.Request, svc *service) (*http.Response, bool, error) {
	ctx, cancel := context.WithCancelCause(out.Context())
	timeout := time.Duration(intOr(svc.ReadTimeout, 60000)) * time.Millisecond
	errTimeout := errors.New("upstream read timeout")
	timer := time.AfterFunc(timeout, func() { cancel(errTimeout) })
	res, err := s.transport.RoundTrip(out.WithContext(ctx))
	timer.Stop()
	if err != nil {
		return nil, errors.Is(context.Cause(ctx), errTimeout), err
	}
	return res, false, nil
}

func (s *Server) copyResponse(w http.ResponseWriter, res *http.Response, start, sent time.Time, rid string) {
	h := w.Header()
	for k, vs := range res.Header {
		h[k] = slices.Clone(vs)
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	via := "1.1 " + serverTokens
	if prior := res.Header.Get("Via"); prior != "" {
		via = prior + ", " + via
	}
	h.Set("Via", via)
	if h.Get("Server") == "" {
		h.Set("Server", serverTokens)
	}
	h.Set("X-Kong-Upstream-Latency", strconv.FormatInt(time.Since(sent).Milliseconds(), 10))
	h.Set("X-Kong-Proxy-Latency", strconv.FormatInt(sent.Sub(start).Milliseconds(), 10))
	h.Set("X-Kong-Request-Id", rid)
	w.WriteHeader(res.StatusCode)
	if _, err := io.Copy(w, res.Body); err != nil {
		s.log.Debug("kong proxy copy response", "err", err)
	}
}

// proxyError answers like kong.response.error: Kong's JSON error template with the request id.
func (s *Server) proxyError(w http.ResponseWriter, start time.Time, rid string, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Server", serverTokens)
	h.Set("X-Kong-Request-Id", rid)
	h.Set("X-Kong-Response-Latency", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\n  \"message\":%q,\n  \"request_id\":%q\n}", msg, rid)
}
