package temporaldev

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// clusterName names the single cluster; namespaces record it as their active cluster.
const clusterName = "active"

// prepareSQLite returns the SQL store config for dbFile ("" = in memory) after making sure the
// schema and the namespace exist, the namespace created with searchAttributes registered. On a
// file that already holds a schema it only adds a missing namespace, so a restart keeps every
// workflow.
func prepareSQLite(dbFile, namespace string, searchAttributes map[string]enumspb.IndexedValueType) (*config.SQL, error) {
	cfg := &config.SQL{
		PluginName: sqliteplugin.PluginName,
		// One connection: SQLite serialises writers anyway and more connections turn contention
		// into SQLITE_BUSY errors instead of waiting.
		MaxConns:     1,
		MaxIdleConns: 1,
	}
	if dbFile == "" {
		// The plugin creates the schema itself for an in-memory database. The random name keeps
		// two servers in one process apart (shared cache is per name).
		cfg.DatabaseName = "temporaldev-" + strconv.FormatUint(rand.Uint64(), 36)
		cfg.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		abs, err := filepath.Abs(dbFile)
		if err != nil {
			return nil, fmt.Errorf("DBFile %q: %w", dbFile, err)
		}
		fresh, err := checkDBFile(abs)
		if err != nil {
			return nil, err
		}
		cfg.DatabaseName = abs
		cfg.ConnectAttributes = map[string]string{
			"mode": "rwc",
			// WAL lets readers proceed during a write; synchronous=normal skips an fsync per
			// commit, which is safe with WAL (a crash can lose the last commits, never corrupt).
			"journal_mode": "wal",
			"synchronous":  "normal",
		}
		if fresh {
			if err := sqliteschema.SetupSchema(cfg); err != nil && !isAlreadyExists(err) {
				return nil, fmt.Errorf("DBFile %s: create the Temporal schema: %w", abs, err)
			}
		}
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, searchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(cfg, ns); err != nil {
		return nil, fmt.Errorf("create namespace %q in %s: %w", namespace, describeDB(dbFile), err)
	}
	return cfg, nil
}

// checkDBFile reports whether path still needs a schema (missing or empty), and fails with the
// path and the fix when SQLite could not create or write it.
func checkDBFile(path string) (fresh bool, err error) {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case err != nil:
		return false, fmt.Errorf("DBFile %s: directory %s: %w (create it or choose another DBFile)", path, dir, err)
	case !info.IsDir():
		return false, fmt.Errorf("DBFile %s: %s is not a directory (choose another DBFile)", path, dir)
	}

	info, err = os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// SQLite also writes -wal and -shm files beside the database: the directory must be writable.
		probe, err := os.CreateTemp(dir, ".temporaldev-probe-*")
		if err != nil {
			return false, fmt.Errorf("DBFile %s: directory %s is not writable: %w (fix its permissions or choose another DBFile)", path, dir, err)
		}
		probe.Close()
		os.Remove(probe.Name())
		return true, nil
	case err != nil:
		return false, fmt.Errorf("DBFile %s: %w", path, err)
	case info.IsDir():
		return false, fmt.Errorf("DBFile %s is a directory: give the path of a file inside it", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("DBFile %s is not writable: %w (fix its permissions or choose another DBFile)", path, err)
	}
	f.Close()
	return info.Size() == 0, nil
}

// isAlreadyExists matches SQLite's "table ... already exists": a schema that is already there.
func isAlreadyExists(err error) bool {
	return strings.Contains(err.Error(), "already exists")
}

func describeDB(dbFile string) string {
	if dbFile == "" {
		return "the in-memory database"
	}
	return dbFile
}
