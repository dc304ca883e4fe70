package region

import (
	"fmt"
	"net/http"
	"strings"
)

// InjectFault posts patch, a POST /fault body such as `{"status":503}`, to the region instance at regionURL.
func InjectFault(regionURL, patch string) error {
	resp, err := http.Post(regionURL+"/fault", "application/json", strings.NewReader(patch))
	if err != nil {
		return fmt.Errorf("inject fault %s into %s: %w", patch, regionURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("inject fault %s into %s: HTTP %d", patch, regionURL, resp.StatusCode)
	}
	return nil
}
