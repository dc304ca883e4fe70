package kongstandin

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Kong's DAO error codes (kong/db/errors.lua); the Admin API puts them in the "code" field of error bodies.
const (
	codeSchemaViolation = 2
	codePrimaryKey      = 3
	codeForeignKey      = 4
	codeUniqueViolation = 5
	codeNotFound        = 6
	codeInvalidOffset   = 7
	codeInvalidSize     = 9
	// codeOperationUnsupported is what a node without a database answers entity writes with.
	codeOperationUnsupported = 12
	// codeDeclarativeConfig marks a declarative configuration POST /config could not load.
	codeDeclarativeConfig = 14
)

// nameForeignKey is the "name" Kong gives foreign key violations.
const nameForeignKey = "foreign key violation"

// apiError is an Admin API error answer: an HTTP status and the JSON body Kong sends with it.
type apiError struct {
	status int
	body   map[string]any
}

// msgError is Kong's plain error body, {"message": "..."}.
func msgError(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]any{"message": msg}}
}

func notFound() *apiError { return msgError(http.StatusNotFound, "Not found") }

// daoError builds Kong's structured DAO error body {"code","name","message","fields"}.
func daoError(status, code int, name, msg string, fields map[string]any) *apiError {
	body := map[string]any{"code": code, "name": name, "message": msg}
	if fields != nil {
		body["fields"] = fields
	}
	return &apiError{status: status, body: body}
}

// violations collects schema errors the way Kong's schema validator reports them: a field name maps to a message
// (or to a nested map for records), entity-wide errors go under "@entity".
type violations map[string]any

func (v violations) add(field, msg string) {
	if _, dup := v[field]; !dup {
		v[field] = msg
	}
}

func (v violations) entity(msg string) {
	list, _ := v["@entity"].([]any)
	v["@entity"] = append(list, msg)
}

// addPath records an error on a dotted path such as "healthchecks.active.timeout", nesting like Kong does.
func (v violations) addPath(path, msg string) {
	parts := strings.Split(path, ".")
	cur := map[string]any(v)
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	if _, dup := cur[parts[len(parts)-1]]; !dup {
		cur[parts[len(parts)-1]] = msg
	}
}

// err turns the collected violations into Kong's 400 schema-violation answer, or nil when there are none.
func (v violations) err() *apiError {
	if len(v) == 0 {
		return nil
	}
	var lines []string
	if list, ok := v["@entity"].([]any); ok {
		for _, m := range list {
			lines = append(lines, fmt.Sprint(m))
		}
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		if k != "@entity" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sub, ok := v[k].(map[string]any); ok {
			subKeys := make([]string, 0, len(sub))
			for sk := range sub {
				subKeys = append(subKeys, sk)
			}
			sort.Strings(subKeys)
			for _, sk := range subKeys {
				lines = append(lines, fmt.Sprintf("%s.%s: %s", k, sk, luaPretty(sub[sk])))
			}
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: %v", k, v[k]))
	}
	msg := fmt.Sprintf("schema violation (%s)", lines[0])
	if len(lines) > 1 {
		msg = fmt.Sprintf("%d schema violations (%s)", len(lines), strings.Join(lines, "; "))
	}
	return daoError(http.StatusBadRequest, codeSchemaViolation, "schema violation", msg, v)
}

// uniqueViolation is Kong's 409 for a taken unique key (name, or a target's upstream+target cache key).
func uniqueViolation(fields map[string]any) *apiError {
	msg := fmt.Sprintf("UNIQUE violation detected on '%s'", luaPretty(fields))
	return daoError(http.StatusConflict, codeUniqueViolation, "unique constraint violation", msg, fields)
}

// foreignKeyMissing is Kong's 400 when a reference (e.g. a route's service) names no existing entity.
func foreignKeyMissing(field string, key map[string]any, parent string) *apiError {
	msg := fmt.Sprintf("the foreign key '%s' does not reference an existing '%s' entity.", luaPretty(key), parent)
	return daoError(http.StatusBadRequest, codeForeignKey, nameForeignKey, msg, map[string]any{field: key})
}

// foreignKeyRestricted is Kong's 400 when deleting a parent that children still reference.
func foreignKeyRestricted(parent, child string) *apiError {
	msg := fmt.Sprintf("an existing '%s' entity references this '%s' entity", child, parent)
	return daoError(http.StatusBadRequest, codeForeignKey, nameForeignKey, msg, map[string]any{"@referenced_by": child})
}

// luaPretty renders a value like Penlight's pretty.write(v, "") does in Kong's messages: {k="v",n=1}.
func luaPretty(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+luaPretty(x[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "null"
	default:
		return fmt.Sprint(x)
	}
}
