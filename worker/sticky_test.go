package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestStickyCacheFromFlagOrEnv: --sticky-cache wins over FAILOVER_STICKY_CACHE; a bad value is refused naming it.
func TestStickyCacheFromFlagOrEnv(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		args      []string
		want      int
		wantErr   string
	}{
		{name: "default off", want: 0},
		{name: "env", env: "10000", want: 10000},
		{name: "flag over env", env: "10000", args: []string{"--sticky-cache", "5"}, want: 5},
		{name: "env not a number", env: "lots", wantErr: "FAILOVER_STICKY_CACHE"},
		{name: "negative flag", args: []string{"--sticky-cache", "-1"}, wantErr: "--sticky-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FAILOVER_STICKY_CACHE", tc.env)
			fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
			n := fs.Int("sticky-cache", 0, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := loadStickyCache(fs, n)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err %v, want one naming %s", err, tc.wantErr)
				}
			case err != nil || *n != tc.want:
				t.Errorf("got %d, %v; want %d", *n, err, tc.want)
			}
		})
	}
}
