package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// cacheEntry is the CacheFile content: the last value etcd confirmed, and when.
type cacheEntry struct {
	Key         string          `json:"key"`
	Value       json.RawMessage `json:"value"` // follow.Active JSON, checked with ParseActive on load
	Revision    int64           `json:"revision"`
	ConfirmedAt time.Time       `json:"confirmed_at"`
	Active      Active          `json:"-"`
}

// readCache loads the cache file; a missing file is (nil, nil). A file for another key is an error, so a copied
// or misconfigured cache never steers a service.
func readCache(path, key string) (*cacheEntry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c cacheEntry
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not a follow cache file: %w", err)
	}
	if c.Key != key {
		return nil, fmt.Errorf("it caches key %q, not %q", c.Key, key)
	}
	if c.Active, err = ParseActive(c.Value); err != nil {
		return nil, err
	}
	return &c, nil
}

// writeCache replaces the file atomically: a reader (or a crash) sees the old content or the new, never a part.
func writeCache(path string, c cacheEntry) error {
	value, err := json.Marshal(c.Active)
	if err != nil {
		return err
	}
	c.Value = value
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil { // the data must be on disk before the rename makes it the file
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // persist the rename itself; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// cacheLoop rewrites the cache file whenever etcd confirms a newly applied value. It runs on its own so the disk
// (fsync included) is never on the path from a put to the handler and the ack; bursts coalesce into one write.
func (f *Follower) cacheLoop(ctx context.Context) {
	if f.cfg.CacheFile == "" {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.saveWake:
			f.saveCache()
		}
	}
}

// saveCache writes the applied value if etcd has confirmed it. Only cacheLoop and Run's exit (after cacheLoop
// ended) call it, so writes never overlap.
func (f *Follower) saveCache() {
	if f.cfg.CacheFile == "" {
		return
	}
	f.mu.Lock()
	c := cacheEntry{Key: f.cfg.Key, Active: f.applied, Revision: f.appliedRev, ConfirmedAt: f.confirmedAt.UTC()}
	ok := f.known && !f.fromCache
	f.mu.Unlock()
	if !ok {
		return
	}
	if err := writeCache(f.cfg.CacheFile, c); err != nil {
		f.log.Error("follow: could not write the cache file; a restart while etcd is down will have no fallback",
			"file", f.cfg.CacheFile, "err", err)
	}
}
