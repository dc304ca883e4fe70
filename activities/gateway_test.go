package activities

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// ConfirmSplit waits out a gateway that still serves the old split, and gives up, naming the share it saw, when the
// gateway never serves the new one.
func TestConfirmSplit(t *testing.T) {
	var served atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region := "us-east"
		if n := served.Add(1); n > 25 && n%2 == 0 { // the first two rounds and a half see the old split
			region = "eu-west"
		}
		w.Header().Set("X-Region", region)
	}))
	t.Cleanup(gw.Close)
	a := &Activities{}
	in := ConfirmSplitInput{URL: gw.URL, RegionHeader: "X-Region", Region: "eu-west", Want: 0.5, Tolerance: 0.1, Samples: 10, Timeout: 10 * time.Second}
	res, err := a.ConfirmSplit(context.Background(), in)
	if err != nil || res.Rounds < 3 || res.Share != 0.5 {
		t.Fatalf("confirm: %+v %v, want 50%% after at least 3 rounds", res, err)
	}
	in.Want, in.Timeout = 1, 100*time.Millisecond
	_, err = a.ConfirmSplit(context.Background(), in)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrSplitNotConfirmed || !strings.Contains(err.Error(), "serves 50% from eu-west") {
		t.Fatalf("confirm 100%%: %v, want %s naming the 50%% it saw", err, ErrSplitNotConfirmed)
	}
}
