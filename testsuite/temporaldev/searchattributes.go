package temporaldev

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

// registerSearchAttributes adds the custom search attributes that namespace lacks through the
// operator service, as an operator would, and reports whether it added any. Ones already
// registered with the same type are kept (created with the namespace, or a restart on a file);
// one registered with another type is an error, since its values would not mean what the caller
// expects.
func registerSearchAttributes(ctx context.Context, address, namespace string, want map[string]enumspb.IndexedValueType, logger *slog.Logger) (added bool, err error) {
	if len(want) == 0 {
		return false, nil
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: sdkLogger(logger)})
	if err != nil {
		return false, fmt.Errorf("search attributes: connect to %s: %w", address, err)
	}
	defer c.Close()

	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return false, fmt.Errorf("search attributes: list on namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		typ := want[name]
		existing, ok := have.GetCustomAttributes()[name]
		if !ok {
			existing, ok = have.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = typ
		case existing != typ:
			return false, fmt.Errorf("search attribute %s is already registered on namespace %s as %s, not %s: "+
				"rename it or use a new DBFile", name, namespace, existing, typ)
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	}); err != nil {
		return false, fmt.Errorf("search attributes: add %v on namespace %s: %w", slices.Sorted(maps.Keys(missing)), namespace, err)
	}
	return true, nil
}
