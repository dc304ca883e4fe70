package workflows

import "testing"

func TestCheckListed(t *testing.T) {
	const key = "/failover/payments/active"
	kong := Leftover{System: "kong", Target: "payments/10.0.0.2:8080", Now: "weight 100"}
	etcd := Leftover{System: "etcd", Target: key, Now: "eu-west epoch 3"}
	unknownEtcd := Leftover{System: "etcd", Target: key, Now: "unknown: read failed"}
	for _, tc := range []struct {
		name    string
		listed  []Leftover
		changed []string
		ok      bool
	}{
		{"exactly listed", []Leftover{etcd, kong}, []string{key, kong.Target}, true},
		{"a change not listed", []Leftover{kong}, []string{key, kong.Target}, false},
		{"listed but unchanged", []Leftover{etcd, kong}, []string{kong.Target}, false},
		{"unknown covers its system", []Leftover{unknownEtcd, kong}, []string{key, kong.Target}, true},
		{"unknown etcd does not cover kong", []Leftover{unknownEtcd}, []string{kong.Target}, false},
	} {
		if err := CheckListed(tc.listed, tc.changed, key); (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
