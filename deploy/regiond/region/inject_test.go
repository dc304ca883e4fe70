package region

import (
	"net/http"
	"strings"
	"testing"
)

func TestInjectFault(t *testing.T) {
	s := startRegion(t, Options{})
	if err := InjectFault(s.URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	if got := decode[Fault](t, do(t, http.MethodGet, s.URL()+"/fault", "")); got.Status != 503 {
		t.Fatalf("fault after InjectFault: %+v, want status 503", got)
	}
	if err := InjectFault(s.URL(), `{"status":99}`); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("a refused patch: %v, want HTTP 400", err)
	}
}
