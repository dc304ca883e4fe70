package kongstandin

import (
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// router matches proxy requests to routes the way Kong's traditional_compatible router does for the features the
// stand-in supports: hosts (exact or one wildcard), methods, headers and paths (prefix, or "~" regex), where each
// path of a route is its own candidate. Candidates are tried in a fixed priority order:
//  1. more match categories (hosts, methods, headers, paths) first;
//  2. routes whose hosts have no wildcard before wildcard ones;
//  3. regex paths before prefix paths, regex paths by regex_priority;
//  4. longer paths first;
//  5. older routes first.
type router struct {
	candidates []*candidate
}

// candidate is one (route, path) pair the router can match.
type candidate struct {
	route   *route
	svc     *service
	path    string         // "" when the route has no paths
	re      *regexp.Regexp // set for "~" regex paths
	hosts   []hostPattern
	methods []string
	headers map[string][]string // lower-case name → lower-case values

	categories    int
	plainHosts    bool
	regexPriority int
}

type hostPattern struct {
	host     string // lower-case, without the wildcard part
	port     string // "" = any port
	wildcard int    // 0 none, 1 leading "*.", 2 trailing ".*"
}

func (c *config) getRouter() *router {
	c.routerOnce.Do(func() { c.router = buildRouter(c) })
	return c.router
}

func buildRouter(c *config) *router {
	rt := &router{}
	for _, r := range c.routes {
		if !slices.Contains(r.Protocols, "http") && !slices.Contains(r.Protocols, "https") {
			continue
		}
		var svc *service
		if r.Service != nil {
			svc = c.services[r.Service.ID]
			// Kong leaves routes of disabled services out of the router.
			if svc != nil && svc.Enabled != nil && !*svc.Enabled {
				continue
			}
		}
		base := candidate{route: r, svc: svc, plainHosts: len(r.Hosts) > 0, headers: map[string][]string{}}
		if r.RegexPriority != nil {
			base.regexPriority = *r.RegexPriority
		}
		for _, h := range r.Hosts {
			hp := parseHostPattern(h)
			if hp.wildcard != 0 {
				base.plainHosts = false
			}
			base.hosts = append(base.hosts, hp)
		}
		for _, m := range r.Methods {
			base.methods = append(base.methods, strings.ToUpper(m))
		}
		for name, vals := range r.Headers {
			for _, v := range vals {
				base.headers[strings.ToLower(name)] = append(base.headers[strings.ToLower(name)], strings.ToLower(v))
			}
		}
		for _, n := range []int{len(r.Hosts), len(r.Methods), len(r.Headers), len(r.Paths)} {
			if n > 0 {
				base.categories++
			}
		}
		if len(r.Paths) == 0 {
			cand := base
			rt.candidates = append(rt.candidates, &cand)
			continue
		}
		for _, p := range r.Paths {
			cand := base
			cand.path = p
			if strings.HasPrefix(p, "~") {
				cand.re = regexp.MustCompile("^(?:" + p[1:] + ")")
			}
			rt.candidates = append(rt.candidates, &cand)
		}
	}
	slices.SortStableFunc(rt.candidates, func(a, b *candidate) int {
		switch {
		case a.categories != b.categories:
			return b.categories - a.categories
		case a.plainHosts != b.plainHosts:
			return boolRank(b.plainHosts) - boolRank(a.plainHosts)
		case (a.re != nil) != (b.re != nil):
			return boolRank(b.re != nil) - boolRank(a.re != nil)
		case a.re != nil && a.regexPriority != b.regexPriority:
			return b.regexPriority - a.regexPriority
		case len(a.path) != len(b.path):
			return len(b.path) - len(a.path)
		case a.route.CreatedAt != b.route.CreatedAt:
			return int(a.route.CreatedAt - b.route.CreatedAt)
		}
		return strings.Compare(a.route.ID, b.route.ID)
	})
	return rt
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseHostPattern(h string) hostPattern {
	h = strings.ToLower(h)
	hp := hostPattern{}
	if host, port, err := net.SplitHostPort(h); err == nil {
		h, hp.port = host, port
	}
	switch {
	case strings.HasPrefix(h, "*."):
		hp.wildcard, h = 1, h[1:] // keep the dot: "*.a.com" matches "x.a.com", not "a.com"
	case strings.HasSuffix(h, ".*"):
		hp.wildcard, h = 2, h[:len(h)-1]
	}
	hp.host = h
	return hp
}

func (hp hostPattern) matches(host, port string) bool {
	if hp.port != "" && hp.port != port {
		return false
	}
	switch hp.wildcard {
	case 1:
		return strings.HasSuffix(host, hp.host) && len(host) > len(hp.host)
	case 2:
		return strings.HasPrefix(host, hp.host) && len(host) > len(hp.host)
	}
	return host == hp.host
}

// match returns the winning candidate and the path prefix it matched ("" when it matched no path).
func (rt *router) match(r *http.Request, listenPort string) (*candidate, string) {
	host, port := strings.ToLower(r.Host), listenPort
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	reqPath := r.URL.EscapedPath()
	if reqPath == "" {
		reqPath = "/"
	}
	for _, c := range rt.candidates {
		if len(c.hosts) > 0 && !slices.ContainsFunc(c.hosts, func(hp hostPattern) bool { return hp.matches(host, port) }) {
			continue
		}
		if len(c.methods) > 0 && !slices.Contains(c.methods, r.Method) {
			continue
		}
		if !c.headersMatch(r.Header) {
			continue
		}
		switch {
		case c.re != nil:
			loc := c.re.FindStringIndex(reqPath)
			if loc == nil {
				continue
			}
			return c, reqPath[:loc[1]]
		case c.path != "":
			if !strings.HasPrefix(reqPath, c.path) {
				continue
			}
			return c, c.path
		}
		return c, ""
	}
	return nil, ""
}

func (c *candidate) headersMatch(h http.Header) bool {
	for name, want := range c.headers {
		found := false
		for _, v := range h.Values(name) {
			if slices.Contains(want, strings.ToLower(v)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// upstreamURI is Kong's path_handling "v0" (kong/router/utils.lua): how the service path, the matched prefix and the
// request path combine into the path sent upstream.
func upstreamURI(stripPath bool, prefix, reqURI, base string) string {
	if !stripPath || prefix == "" {
		prefix = "/"
	}
	postfix := sanitizePostfix(strings.TrimPrefix(reqURI, prefix))
	if !strings.HasPrefix(reqURI, prefix) {
		postfix = ""
	}
	if strings.HasSuffix(base, "/") {
		if stripPath {
			switch {
			case postfix == "":
				if base == "/" || strings.HasSuffix(reqURI, "/") {
					return base
				}
				return base[:len(base)-1]
			case strings.HasPrefix(postfix, "/"):
				return base[:len(base)-1] + postfix
			}
			return base + postfix
		}
		return base + reqURI[1:]
	}
	if stripPath {
		switch {
		case postfix == "":
			if len(reqURI) > 1 && strings.HasSuffix(reqURI, "/") {
				return base + "/"
			}
			return base
		case strings.HasPrefix(postfix, "/"):
			return base + postfix
		}
		return base + "/" + postfix
	}
	if reqURI == "/" {
		return base
	}
	return base + reqURI
}

func sanitizePostfix(p string) string {
	switch {
	case p == "." || p == "..":
		return ""
	case strings.HasPrefix(p, "./"):
		return p[2:]
	case strings.HasPrefix(p, "../"):
		return p[3:]
	}
	return p
}
