package records_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// The column table and the Summary struct agree: one entry per field, named as the field's
// Parquet column, in field order, and each entry reads its own field.
func TestSummaryColumnsFollowTheStruct(t *testing.T) {
	typ := reflect.TypeFor[records.Summary]()
	if len(records.SummaryColumns) != typ.NumField() {
		t.Fatalf("%d columns for %d fields", len(records.SummaryColumns), typ.NumField())
	}
	for i, c := range records.SummaryColumns {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if c.Name != name {
			t.Errorf("column %d is %q, field %s is %q", i, c.Name, f.Name, name)
		}
		s := fullSummary()
		before := c.Value(&s)
		v := reflect.ValueOf(&s).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "1")
		case reflect.Int32, reflect.Int64:
			v.SetInt(v.Int() + 1)
		case reflect.Pointer:
			v.SetZero()
		}
		if reflect.DeepEqual(before, c.Value(&s)) {
			t.Errorf("column %s does not read field %s", c.Name, f.Name)
		}
		// Every column is content but the hash itself and as_of (when the content was true).
		if unhashed := c.Name == "content_hash" || c.Name == "as_of"; unhashed == c.Hashed {
			t.Errorf("column %s: hashed = %v", c.Name, c.Hashed)
		}
	}
}
