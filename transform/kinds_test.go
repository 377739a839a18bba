package transform

import (
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// Every report kind has its reader and its week count, and the table names no other kind: a kind
// added to records.KindSpecs without its builder fails here.
func TestKindTableIsComplete(t *testing.T) {
	for _, spec := range records.KindSpecs {
		k, ok := kindTable[spec.Kind]
		if !ok || k.reader == nil || k.count == nil {
			t.Errorf("kind %s: no reader or count in kindTable", spec.Kind)
		}
	}
	if len(kindTable) != len(records.KindSpecs) {
		t.Errorf("kindTable has %d kinds, records.KindSpecs %d", len(kindTable), len(records.KindSpecs))
	}
}
