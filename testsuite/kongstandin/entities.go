package kongstandin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The entity structs mirror the fields of Kong 3.9's schemas (kong/db/schema/entities/*.lua, traditional_compatible
// router flavor). Fields are pointers or slices without omitempty so unset values encode as JSON null, as Kong's
// Admin API does.

// ref is a foreign key as Kong prints it, {"id": "..."}; on input Kong also accepts the endpoint key (name).
type ref struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type service struct {
	ID                string   `json:"id"`
	CreatedAt         int64    `json:"created_at"`
	UpdatedAt         int64    `json:"updated_at"`
	Name              *string  `json:"name"`
	Retries           *int     `json:"retries"`
	Protocol          *string  `json:"protocol"`
	Host              *string  `json:"host"`
	Port              *int     `json:"port"`
	Path              *string  `json:"path"`
	ConnectTimeout    *int     `json:"connect_timeout"`
	WriteTimeout      *int     `json:"write_timeout"`
	ReadTimeout       *int     `json:"read_timeout"`
	Tags              []string `json:"tags"`
	ClientCertificate *ref     `json:"client_certificate"`
	TLSVerify         *bool    `json:"tls_verify"`
	TLSVerifyDepth    *int     `json:"tls_verify_depth"`
	CACertificates    []string `json:"ca_certificates"`
	Enabled           *bool    `json:"enabled"`
}

type cidrPort struct {
	IP   *string `json:"ip"`
	Port *int    `json:"port"`
}

type route struct {
	ID                      string              `json:"id"`
	CreatedAt               int64               `json:"created_at"`
	UpdatedAt               int64               `json:"updated_at"`
	Name                    *string             `json:"name"`
	Protocols               []string            `json:"protocols"`
	HTTPSRedirectStatusCode *int                `json:"https_redirect_status_code"`
	StripPath               *bool               `json:"strip_path"`
	PreserveHost            *bool               `json:"preserve_host"`
	RequestBuffering        *bool               `json:"request_buffering"`
	ResponseBuffering       *bool               `json:"response_buffering"`
	Tags                    []string            `json:"tags"`
	Service                 *ref                `json:"service"`
	SNIs                    []string            `json:"snis"`
	Sources                 []cidrPort          `json:"sources"`
	Destinations            []cidrPort          `json:"destinations"`
	Methods                 []string            `json:"methods"`
	Hosts                   []string            `json:"hosts"`
	Paths                   []string            `json:"paths"`
	Headers                 map[string][]string `json:"headers"`
	RegexPriority           *int                `json:"regex_priority"`
	PathHandling            *string             `json:"path_handling"`
}

type upstream struct {
	ID                     string        `json:"id"`
	CreatedAt              int64         `json:"created_at"`
	UpdatedAt              int64         `json:"updated_at"`
	Name                   *string       `json:"name"`
	Algorithm              *string       `json:"algorithm"`
	HashOn                 *string       `json:"hash_on"`
	HashFallback           *string       `json:"hash_fallback"`
	HashOnHeader           *string       `json:"hash_on_header"`
	HashFallbackHeader     *string       `json:"hash_fallback_header"`
	HashOnCookie           *string       `json:"hash_on_cookie"`
	HashOnCookiePath       *string       `json:"hash_on_cookie_path"`
	HashOnQueryArg         *string       `json:"hash_on_query_arg"`
	HashFallbackQueryArg   *string       `json:"hash_fallback_query_arg"`
	HashOnURICapture       *string       `json:"hash_on_uri_capture"`
	HashFallbackURICapture *string       `json:"hash_fallback_uri_capture"`
	Slots                  *int          `json:"slots"`
	Healthchecks           *healthchecks `json:"healthchecks"`
	Tags                   []string      `json:"tags"`
	HostHeader             *string       `json:"host_header"`
	ClientCertificate      *ref          `json:"client_certificate"`
	UseSrvName             *bool         `json:"use_srv_name"`
}

type healthchecks struct {
	Active    *activeChecks  `json:"active"`
	Passive   *passiveChecks `json:"passive"`
	Threshold *float64       `json:"threshold"`
}

type activeChecks struct {
	Type                   *string             `json:"type"`
	Timeout                *float64            `json:"timeout"`
	Concurrency            *int                `json:"concurrency"`
	HTTPPath               *string             `json:"http_path"`
	HTTPSSni               *string             `json:"https_sni"`
	HTTPSVerifyCertificate *bool               `json:"https_verify_certificate"`
	Headers                map[string][]string `json:"headers"`
	Healthy                *struct {
		Interval     *float64 `json:"interval"`
		HTTPStatuses []int    `json:"http_statuses"`
		Successes    *int     `json:"successes"`
	} `json:"healthy"`
	Unhealthy *struct {
		Interval     *float64 `json:"interval"`
		HTTPStatuses []int    `json:"http_statuses"`
		TCPFailures  *int     `json:"tcp_failures"`
		Timeouts     *int     `json:"timeouts"`
		HTTPFailures *int     `json:"http_failures"`
	} `json:"unhealthy"`
}

type passiveChecks struct {
	Type    *string `json:"type"`
	Healthy *struct {
		HTTPStatuses []int `json:"http_statuses"`
		Successes    *int  `json:"successes"`
	} `json:"healthy"`
	Unhealthy *struct {
		HTTPStatuses []int `json:"http_statuses"`
		TCPFailures  *int  `json:"tcp_failures"`
		Timeouts     *int  `json:"timeouts"`
		HTTPFailures *int  `json:"http_failures"`
	} `json:"unhealthy"`
}

// target timestamps are seconds with millisecond precision (typedefs.auto_timestamp_ms), hence float64.
type target struct {
	ID        string   `json:"id"`
	CreatedAt float64  `json:"created_at"`
	UpdatedAt float64  `json:"updated_at"`
	Upstream  ref      `json:"upstream"`
	Target    *string  `json:"target"`
	Weight    *int     `json:"weight"`
	Tags      []string `json:"tags"`
}

func (s *service) id() string       { return s.ID }
func (s *service) name() *string    { return s.Name }
func (s *service) created() int64   { return s.CreatedAt }
func (s *service) tags() []string   { return s.Tags }
func (r *route) id() string         { return r.ID }
func (r *route) name() *string      { return r.Name }
func (r *route) created() int64     { return r.CreatedAt }
func (r *route) tags() []string     { return r.Tags }
func (u *upstream) id() string      { return u.ID }
func (u *upstream) name() *string   { return u.Name }
func (u *upstream) created() int64  { return u.CreatedAt }
func (u *upstream) tags() []string  { return u.Tags }
func (s *service) stamp(c, u int64) { s.CreatedAt, s.UpdatedAt = c, u }
func (r *route) stamp(c, u int64)   { r.CreatedAt, r.UpdatedAt = c, u }
func (u *upstream) stamp(c, up int64) {
	u.CreatedAt, u.UpdatedAt = c, up
}
func (s *service) setKey(id string)  { s.ID = id }
func (r *route) setKey(id string)    { r.ID = id }
func (u *upstream) setKey(id string) { u.ID = id }

// Defaults are Kong 3.9's schema defaults, as the JSON objects a create starts from.

func serviceDefaults() map[string]any {
	return map[string]any{
		"retries": 5, "protocol": "http", "port": 80, "connect_timeout": 60000, "write_timeout": 60000,
		"read_timeout": 60000, "enabled": true,
	}
}

func routeDefaults() map[string]any {
	return map[string]any{
		"protocols": []any{"http", "https"}, "https_redirect_status_code": 426, "strip_path": true,
		"preserve_host": false, "request_buffering": true, "response_buffering": true, "regex_priority": 0,
		"path_handling": "v0",
	}
}

func upstreamDefaults() map[string]any {
	return map[string]any{
		"algorithm": "round-robin", "hash_on": "none", "hash_fallback": "none", "hash_on_cookie_path": "/",
		"slots": 10000, "use_srv_name": false, "healthchecks": healthcheckDefaults(),
	}
}

func healthcheckDefaults() map[string]any {
	return map[string]any{
		"threshold": 0,
		"active": map[string]any{
			"type": "http", "timeout": 1, "concurrency": 10, "http_path": "/", "https_verify_certificate": true,
			"healthy":   map[string]any{"interval": 0, "http_statuses": []any{200, 302}, "successes": 0},
			"unhealthy": map[string]any{"interval": 0, "http_statuses": []any{429, 404, 500, 501, 502, 503, 504, 505}, "tcp_failures": 0, "timeouts": 0, "http_failures": 0},
		},
		"passive": map[string]any{
			"type": "http",
			"healthy": map[string]any{"successes": 0, "http_statuses": []any{
				200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308}},
			"unhealthy": map[string]any{"http_statuses": []any{429, 500, 503}, "tcp_failures": 0, "timeouts": 0, "http_failures": 0},
		},
	}
}

// usesHealthchecks is Kong's is_upstream_using_healthcheck: any probe interval or passive counter enabled.
func (u *upstream) usesHealthchecks() bool {
	h := u.Healthchecks
	if h == nil {
		return false
	}
	nz := func(p *float64) bool { return p != nil && *p != 0 }
	nzi := func(p *int) bool { return p != nil && *p != 0 }
	if a := h.Active; a != nil {
		if (a.Healthy != nil && nz(a.Healthy.Interval)) || (a.Unhealthy != nil && nz(a.Unhealthy.Interval)) {
			return true
		}
	}
	if p := h.Passive; p != nil && p.Unhealthy != nil {
		return nzi(p.Unhealthy.TCPFailures) || nzi(p.Unhealthy.Timeouts) || nzi(p.Unhealthy.HTTPFailures)
	}
	return false
}

// toMap turns an entity back into its JSON object, the base a PATCH merges into.
func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	_ = d.Decode(&m)
	return m
}

// mergeRecords overlays src on dst. Like Kong's update, records (nested objects of the schema) merge field by field;
// maps, arrays and scalars are replaced. Only upstream healthchecks are records among the fields served here.
func mergeRecords(dst, src map[string]any, path string) {
	for k, v := range src {
		p := k
		if path != "" {
			p = path + "." + k
		}
		sub, isObj := v.(map[string]any)
		cur, curObj := dst[k].(map[string]any)
		if isObj && curObj && isRecordPath(p) {
			mergeRecords(cur, sub, p)
			continue
		}
		dst[k] = v
	}
}

func isRecordPath(p string) bool {
	return p == "healthchecks" || (strings.HasPrefix(p, "healthchecks.") && !strings.HasSuffix(p, ".headers"))
}

// decodeEntity converts a merged JSON object into an entity struct, reporting unknown fields and wrong types with
// Kong's schema-violation messages.
func decodeEntity(m map[string]any, out any) *apiError {
	v := violations{}
	unknownFields(m, reflect.TypeOf(out).Elem(), "", v)
	if e := v.err(); e != nil {
		return e
	}
	b, err := json.Marshal(m)
	if err != nil {
		return msgError(400, "Cannot parse JSON body")
	}
	if err := json.Unmarshal(b, out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			v.addPath(te.Field, expectedType(te.Type))
			return v.err()
		}
		return msgError(400, "Cannot parse JSON body")
	}
	return nil
}

func unknownFields(m map[string]any, t reflect.Type, prefix string, v violations) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		fields[name] = t.Field(i).Type
	}
	for k, val := range m {
		ft, ok := fields[k]
		if !ok {
			v.addPath(prefix+k, "unknown field")
			continue
		}
		if sub, isObj := val.(map[string]any); isObj {
			unknownFields(sub, ft, prefix+k+".", v)
		}
	}
}

func expectedType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "expected an integer"
	case reflect.Float64, reflect.Float32:
		return "expected a number"
	case reflect.String:
		return "expected a string"
	case reflect.Bool:
		return "expected a boolean"
	case reflect.Slice:
		return "expected an array"
	case reflect.Map:
		return "expected a map"
	default:
		return "expected a record"
	}
}

// applyServiceURL expands the "url" shorthand field into protocol, host, port and path, as Kong does.
func applyServiceURL(m map[string]any) *apiError {
	raw, ok := m["url"]
	if !ok {
		return nil
	}
	delete(m, "url")
	s, ok := raw.(string)
	if !ok {
		return violations{"url": "expected a string"}.err()
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Hostname() == "" {
		return violations{"url": "missing host in url"}.err()
	}
	m["protocol"] = u.Scheme
	m["host"] = u.Hostname()
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	m["port"] = port
	if u.EscapedPath() != "" {
		m["path"] = u.EscapedPath()
	} else {
		m["path"] = nil
	}
	return nil
}

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	labelRE    = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$`)
	methodRE   = regexp.MustCompile(`^[A-Z]+$`)
	nameCharRE = regexp.MustCompile(`^[A-Za-z0-9.\-_~\x{80}-\x{10FFFF}]+$`)
	protocols  = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp", "ws", "wss"}
)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// hostPort is Kong's normalize_ip: a hostname, IPv4 or IPv6 address with an optional port.
type hostPort struct {
	host, kind string // kind: "name", "ipv4", "ipv6"
	port       int
	hasPort    bool
}

func parseHostPort(s string) (hostPort, bool) {
	host, portStr := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return hostPort{}, false
		}
		host, portStr = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return hostPort{}, false
		}
	case strings.Count(s, ":") > 1:
		// a bare IPv6 address cannot carry a port
	case strings.Contains(s, ":"):
		host, portStr, _ = strings.Cut(s, ":")
	}
	hp := hostPort{host: host}
	if portStr != "" || strings.HasSuffix(s, ":") {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 0 || p > 65535 || strings.TrimLeft(portStr, "0123456789") != "" {
			return hostPort{}, false
		}
		hp.port, hp.hasPort = p, true
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil && !strings.Contains(host, ":") {
			hp.kind = "ipv4"
		} else {
			hp.kind = "ipv6"
			hp.host = ip.String()
		}
		return hp, true
	}
	if !validHostname(host) {
		return hostPort{}, false
	}
	hp.kind = "name"
	return hp, true
}

// formatTarget is Kong's format_target: normalise and add the default port 8000 when none is given.
func formatTarget(s string) (string, bool) {
	hp, ok := parseHostPort(s)
	if !ok {
		return "", false
	}
	port := hp.port
	if !hp.hasPort {
		port = defaultTargetPort
	}
	host := hp.host
	if hp.kind == "ipv6" {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port), true
}

// defaultTargetPort is DEFAULT_PORT in kong/db/dao/targets.lua.
const defaultTargetPort = 8000

func between(v violations, field string, p *int, lo, hi int) {
	if p != nil && (*p < lo || *p > hi) {
		v.add(field, fmt.Sprintf("value should be between %d and %d", lo, hi))
	}
}

func oneOf(v violations, field string, p *string, allowed ...string) {
	if p != nil && !slices.Contains(allowed, *p) {
		v.add(field, "expected one of: "+strings.Join(allowed, ", "))
	}
}

func required[T any](v violations, field string, p *T) {
	if p == nil {
		v.add(field, "required field missing")
	}
}

func validName(v violations, p *string) {
	if p == nil {
		return
	}
	if !utf8.ValidString(*p) {
		v.add("name", "invalid utf-8 character sequence detected")
		return
	}
	if !nameCharRE.MatchString(*p) {
		v.add("name", fmt.Sprintf("invalid value '%s': the only accepted ascii characters are alphanumerics or ., -, _, and ~", *p))
	}
}

func validateService(s *service) violations {
	v := violations{}
	validName(v, s.Name)
	required(v, "protocol", s.Protocol)
	oneOf(v, "protocol", s.Protocol, protocols...)
	required(v, "host", s.Host)
	if s.Host != nil {
		if hp, ok := parseHostPort(*s.Host); !ok || hp.hasPort {
			v.add("host", "invalid value: "+*s.Host)
		}
	}
	required(v, "port", s.Port)
	between(v, "port", s.Port, 0, 65535)
	between(v, "retries", s.Retries, 0, 32767)
	for f, p := range map[string]*int{"connect_timeout": s.ConnectTimeout, "write_timeout": s.WriteTimeout, "read_timeout": s.ReadTimeout} {
		between(v, f, p, 1, 1<<31-2)
	}
	if s.Path != nil && !strings.HasPrefix(*s.Path, "/") {
		v.add("path", "should start with: /")
	}
	required(v, "enabled", s.Enabled)
	if s.Protocol != nil && *s.Protocol != "https" && *s.Protocol != "tls" {
		if s.ClientCertificate != nil {
			v.add("client_certificate", "value must be null")
		}
		if s.TLSVerify != nil {
			v.add("tls_verify", "value must be null")
		}
		if s.TLSVerifyDepth != nil {
			v.add("tls_verify_depth", "value must be null")
		}
		if s.CACertificates != nil {
			v.add("ca_certificates", "value must be null")
		}
	}
	return v
}

func validateRoute(r *route) violations {
	v := violations{}
	validName(v, r.Name)
	if len(r.Protocols) == 0 {
		v.add("protocols", "length must be at least 1")
	}
	for _, p := range r.Protocols {
		if !slices.Contains(protocols, p) {
			v.add("protocols", "expected one of: "+strings.Join(protocols, ", "))
		}
	}
	for _, m := range r.Methods {
		if !methodRE.MatchString(m) {
			v.add("methods", "invalid value: "+m)
		}
	}
	for _, p := range r.Paths {
		switch {
		case strings.HasPrefix(p, "~/"):
			if _, err := regexp.Compile(p[1:]); err != nil {
				v.add("paths", fmt.Sprintf("invalid regex: '%s' (PCRE returned: %v)", p[1:], err))
			}
		case !strings.HasPrefix(p, "/"):
			v.add("paths", "should start with: / (fixed path) or ~/ (regex path)")
		}
	}
	for _, h := range r.Hosts {
		if _, ok := parseHostPort(strings.Replace(h, "*", "wildcard", 1)); !ok || strings.Count(h, "*") > 1 {
			v.add("hosts", "invalid hostname: "+h)
		}
	}
	required(v, "strip_path", r.StripPath)
	required(v, "preserve_host", r.PreserveHost)
	required(v, "https_redirect_status_code", r.HTTPSRedirectStatusCode)
	if r.HTTPSRedirectStatusCode != nil && !slices.Contains([]int{426, 301, 302, 307, 308}, *r.HTTPSRedirectStatusCode) {
		v.add("https_redirect_status_code", "expected one of: 426, 301, 302, 307, 308")
	}
	oneOf(v, "path_handling", r.PathHandling, "v0", "v1")
	httpish := slices.Contains(r.Protocols, "http") || slices.Contains(r.Protocols, "https")
	if httpish && len(r.Methods) == 0 && len(r.Hosts) == 0 && len(r.Headers) == 0 && len(r.Paths) == 0 {
		if slices.Contains(r.Protocols, "https") {
			if len(r.SNIs) == 0 {
				v.entity("must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'")
			}
		} else {
			v.entity("must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'")
		}
	}
	return v
}

func validateUpstream(u *upstream) violations {
	v := violations{}
	required(v, "name", u.Name)
	if u.Name != nil {
		n := *u.Name
		hp, ok := parseHostPort(n)
		switch {
		case !ok:
			v.add("name", fmt.Sprintf("Invalid name ('%s'); must be a valid hostname", n))
		case hp.kind != "name":
			v.add("name", fmt.Sprintf("Invalid name ('%s'); no ip addresses allowed", n))
		case hp.hasPort:
			v.add("name", fmt.Sprintf("Invalid name ('%s'); no port allowed", n))
		}
	}
	oneOf(v, "algorithm", u.Algorithm, "consistent-hashing", "least-connections", "round-robin", "latency")
	hashOn := []string{"none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"}
	oneOf(v, "hash_on", u.HashOn, hashOn...)
	oneOf(v, "hash_fallback", u.HashFallback, hashOn...)
	between(v, "slots", u.Slots, 10, 1<<16)
	return v
}

func validateTarget(t *target) violations {
	v := violations{}
	required(v, "target", t.Target)
	required(v, "weight", t.Weight)
	between(v, "weight", t.Weight, 0, 65535)
	return v
}
