package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes every failover sets, so Web UI lists can filter, e.g. FailoverService="payments".
var (
	ServiceKey = temporal.NewSearchAttributeKeyKeyword("FailoverService")
	FromKey    = temporal.NewSearchAttributeKeyKeyword("FailoverFrom")
	ToKey      = temporal.NewSearchAttributeKeyKeyword("FailoverTo")
	StepKey    = temporal.NewSearchAttributeKeyKeyword("FailoverStep")
	OutcomeKey = temporal.NewSearchAttributeKeyKeyword("FailoverOutcome")
	// DrillKey is true on a drill and on the failover and failback it runs: FailoverDrill=true lists them.
	DrillKey = temporal.NewSearchAttributeKeyBool("FailoverDrill")
)

// SearchAttributes lists the custom search attributes to register on a Temporal namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	m := map[string]enumspb.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{ServiceKey, FromKey, ToKey, StepKey, OutcomeKey} {
		m[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	m[DrillKey.GetName()] = enumspb.INDEXED_VALUE_TYPE_BOOL
	return m
}
