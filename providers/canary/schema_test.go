package canary

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The addon publishes the schema in its Package (resources/schema.cue); it
// must be the one this package embeds, or users' steps would drift from it.
func TestAddonPublishesTheProviderSchema(t *testing.T) {
	src, err := os.ReadFile("../../resources/schema.cue")
	require.NoError(t, err)
	v := cuecontext.New().CompileBytes(src)
	require.NoError(t, v.Err())
	published, err := v.LookupPath(cue.ParsePath("providerSchema")).String()
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(Schema), strings.TrimSpace(published))
}

// TestSchemaMatchesGoTypes: what the steps send and read is what the Go
// types decode and encode. Every JSON field of the Go types is declared in
// the schema and every declared field is one of them, at every depth, with
// the same optionality (omitempty in Go, `?` in CUE) and a kind that holds
// the Go values. Every result is optional (a failed call answers only err or
// retry, which package server adds).
func TestSchemaMatchesGoTypes(t *testing.T) {
	schema := cuecontext.New().CompileString(Schema)
	require.NoError(t, schema.Err(), "the schema must compile")
	for _, tc := range []struct {
		fn, do  string
		params  any
		returns any
	}{
		{"#Plan", "plan", PlanParams{}, PlanResult{}},
		{"#Scale", "scale", ScaleParams{}, ScaleResult{}},
		{"#Ping", "ping", PingParams{}, PingResult{}},
		{"#Analyze", "analyze", AnalyzeParams{}, AnalyzeResult{}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			fn := schema.LookupPath(cue.MakePath(cue.Def(tc.fn)))
			require.True(t, fn.Exists())
			do, err := fn.LookupPath(cue.MakePath(cue.Def("#do"))).String()
			require.NoError(t, err)
			assert.Equal(t, tc.do, do)
			provider, err := fn.LookupPath(cue.MakePath(cue.Def("#provider"))).String()
			require.NoError(t, err)
			assert.Equal(t, "istio-canary", provider)

			compareFields(t, tc.fn+".$params", fn.LookupPath(cue.MakePath(cue.Str("$params"))), reflect.TypeOf(tc.params), nil)
			serverFields := map[string]reflect.Type{"err": reflect.TypeOf(""), "retry": reflect.TypeOf("")}
			compareFields(t, tc.fn+".$returns", fn.LookupPath(cue.MakePath(cue.Str("$returns"))), reflect.TypeOf(tc.returns), serverFields)
		})
	}
}

var marshaler = reflect.TypeFor[json.Marshaler]()

// jsonField is a field of a Go type as encoding/json sees it.
type jsonField struct {
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists the JSON fields of a struct type, embedded structs
// flattened as encoding/json does.
func jsonFields(typ reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case f.Anonymous && !hasTag:
			for n, jf := range jsonFields(f.Type) {
				out[n] = jf
			}
			continue
		case name == "-" || !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		out[name] = jsonField{typ: f.Type, omitempty: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")}
	}
	return out
}

// compareFields compares the fields of the CUE struct v with those of the Go
// struct typ. returns, when not nil, marks the top of $returns: every field
// optional, and the server's own fields besides typ's.
func compareFields(t *testing.T, path string, v cue.Value, typ reflect.Type, returns map[string]reflect.Type) {
	t.Helper()
	require.True(t, v.Exists(), "%s is not in the schema", path)
	goFields := jsonFields(typ)
	for n, ft := range returns {
		goFields[n] = jsonField{typ: ft, omitempty: true}
	}
	cueFields := map[string]cue.Value{}
	optional := map[string]bool{}
	it, err := v.Fields(cue.Optional(true))
	require.NoError(t, err, path)
	for it.Next() {
		name := it.Selector().Unquoted()
		cueFields[name] = it.Value()
		optional[name] = it.Selector().ConstraintType() == cue.OptionalConstraint
	}
	for _, name := range slices.Sorted(maps.Keys(goFields)) {
		gf := goFields[name]
		cv, ok := cueFields[name]
		if !assert.True(t, ok, "%s.%s: the Go type has this field and the schema does not declare it", path, name) {
			continue
		}
		wantOptional := gf.omitempty || returns != nil
		assert.Equal(t, wantOptional, optional[name], "%s.%s: optional in the schema (?) exactly when the Go field is omitempty, or a result", path, name)
		compareKind(t, path+"."+name, cv, gf.typ)
	}
	for _, name := range slices.Sorted(maps.Keys(cueFields)) {
		_, ok := goFields[name]
		assert.True(t, ok, "%s.%s: the schema declares this field and the Go type has none", path, name)
	}
}

// compareKind checks that the CUE value's kind holds the Go type's values,
// and compares structs, and the elements of lists of structs, field by field.
func compareKind(t *testing.T, path string, v cue.Value, typ reflect.Type) {
	t.Helper()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	kind := v.IncompleteKind()
	if typ.Implements(marshaler) {
		// Written in JSON as its MarshalJSON says: the types here that
		// have one (durations, measured values) write strings.
		assert.Equal(t, cue.StringKind, kind, "%s: a Go %s, written as a string", path, typ)
		return
	}
	switch typ.Kind() {
	case reflect.Float64:
		assert.Equal(t, cue.NumberKind, kind, "%s: a Go float is a number", path)
	case reflect.String:
		assert.Equal(t, cue.StringKind, kind, "%s: a Go string", path)
	case reflect.Bool:
		assert.Equal(t, cue.BoolKind, kind, "%s: a Go bool", path)
	case reflect.Int, reflect.Int32, reflect.Int64:
		// number where the value may be one the provider answered (a float).
		assert.Contains(t, []cue.Kind{cue.IntKind, cue.NumberKind}, kind, "%s: a Go int is an int or a number", path)
	case reflect.Map:
		assert.Equal(t, cue.StructKind, kind, "%s: a Go map", path)
	case reflect.Struct:
		assert.Equal(t, cue.StructKind, kind, "%s: a Go struct", path)
		compareFields(t, path, v, typ, nil)
	case reflect.Slice:
		assert.Equal(t, cue.ListKind, kind, "%s: a Go slice", path)
		if elem := typ.Elem(); elem.Kind() == reflect.Struct {
			compareFields(t, path+"[]", v.LookupPath(cue.MakePath(cue.AnyIndex)), elem, nil)
		}
	case reflect.Interface:
	default:
		t.Errorf("%s: the test does not know how to compare Go %s", path, typ)
	}
}
