package kongstandin

import (
	"fmt"
	"net/http"
	"strings"
)

// Mode is how the stand-in's Kong node is deployed: what GET / reports and which writes the Admin API takes.
type Mode string

// The deployment modes the stand-in can play (Kong's `database` and `role` settings).
const (
	// ModeTraditional (the zero value) is a node with a database (postgres): entity writes work.
	ModeTraditional Mode = ""
	// ModeDBLess is database = off, role = traditional: entity writes answer 405; configuration changes only
	// through POST /config, as with the Kong Ingress Controller.
	ModeDBLess Mode = "dbless"
	// ModeDataPlane is a hybrid-mode data plane (database = off, role = data_plane): read-only; its
	// configuration comes from the control plane.
	ModeDataPlane Mode = "data_plane"
	// ModeControlPlane is a hybrid-mode control plane (database postgres, role control_plane): entity writes work;
	// the data planes of Options.DataPlanes pick the configuration up after their lag, visible in
	// GET /clustering/data-planes. The stand-in's proxy plays the data planes (set PropagationDelay to their lag).
	ModeControlPlane Mode = "control_plane"
)

// validMode reports whether m is one of the modes above.
func validMode(m Mode) bool {
	return m == ModeTraditional || m == ModeDBLess || m == ModeDataPlane || m == ModeControlPlane
}

// database is what GET / reports as configuration.database.
func (m Mode) database() string {
	if m == ModeTraditional || m == ModeControlPlane {
		return "postgres"
	}
	return "off"
}

// role is what GET / reports as configuration.role.
func (m Mode) role() string {
	switch m {
	case ModeDataPlane:
		return "data_plane"
	case ModeControlPlane:
		return "control_plane"
	}
	return "traditional"
}

// refuseEntityWrite is the answer of a node without a database to an entity write: Kong's off strategy
// (kong/db/strategies/off) refuses insert/upsert ("create"), update and delete ("remove") with 405 and its
// "operation unsupported" DAO error. ok is false when the request may go on.
func (m Mode) refuseEntityWrite(method, path string) (response, bool) {
	if m.database() != "off" {
		return response{}, false
	}
	entity := entityOfPath(path)
	if entity == "" {
		return response{}, false
	}
	var op string
	switch method {
	case http.MethodPost:
		op = "create"
	case http.MethodPut, http.MethodPatch:
		op = "update"
	case http.MethodDelete:
		op = "remove"
	default:
		return response{}, false
	}
	return fail(daoError(http.StatusMethodNotAllowed, codeOperationUnsupported, "operation unsupported",
		fmt.Sprintf("cannot %s '%s' entities when not using a database", op, entity), nil)), true
}

// entityOfPath is the entity an Admin API path writes: the last collection name in it ("" for /, /status, /config).
func entityOfPath(path string) string {
	entity := ""
	for _, seg := range splitPath(path) {
		switch seg {
		case "services", "routes", "upstreams", "targets":
			entity = seg
		}
	}
	if strings.HasSuffix(path, "/health") {
		return ""
	}
	return entity
}
