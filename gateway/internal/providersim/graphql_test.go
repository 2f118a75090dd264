package providersim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGraphQLParseAndProject(t *testing.T) {
	t.Parallel()
	root := map[string]any{
		"__typename": "Query",
		"viewer":     map[string]any{"id": "u1", "name": "Ann", "email": "a@x", "secret": "hidden"},
		"echo": gqlResolver(func(args map[string]any) (any, error) {
			return map[string]any{"args": args}, nil
		}),
		"list": []map[string]any{{"id": "a", "n": 1.0}, {"id": "b", "n": 2.0}},
	}
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		op    string
		want  map[string]any
	}{
		{"shorthand query selects only asked fields", `{ viewer { id name } }`, nil, "",
			map[string]any{"viewer": map[string]any{"id": "u1", "name": "Ann"}}},
		{"alias, comments and commas", "query Q { # comment\n me: viewer { id, email } }", nil, "",
			map[string]any{"me": map[string]any{"id": "u1", "email": "a@x"}}},
		{"named fragment and inline fragment", `query { viewer { ...V ... on User { email } } } fragment V on User { id }`, nil, "",
			map[string]any{"viewer": map[string]any{"id": "u1", "email": "a@x"}}},
		{"variables, defaults, objects, lists, enums", `query Q($a: Int = 5, $b: String!) {
			echo(first: $a, after: $b, filter: {team: {id: {eq: $b}}}, order: updatedAt, ids: [1, "x", true, null]) { args }
		}`, map[string]any{"b": "cur"}, "",
			map[string]any{"echo": map[string]any{"args": map[string]any{
				"first": 5.0, "after": "cur", "order": "updatedAt",
				"filter": map[string]any{"team": map[string]any{"id": map[string]any{"eq": "cur"}}},
				"ids":    []any{1.0, "x", true, nil},
			}}}},
		{"operation by name, block string, __typename", `query A { __typename } query B { echo(s: """ hi """) { args } }`, nil, "B",
			map[string]any{"echo": map[string]any{"args": map[string]any{"s": "hi"}}}},
		{"lists project element-wise", `{ list { id } }`, nil, "",
			map[string]any{"list": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}}},
		{"directives are ignored", `{ viewer @include(if: true) { id } }`, nil, "",
			map[string]any{"viewer": map[string]any{"id": "u1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parseGraphQL(tc.query)
			require.NoError(t, err)
			op, err := doc.pick(tc.op)
			require.NoError(t, err)
			vars := map[string]any{}
			for k, v := range op.defs {
				vars[k] = v
			}
			for k, v := range tc.vars {
				vars[k] = v
			}
			got, err := (&gqlExec{doc: doc, vars: vars}).project(root, op.sel, nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	for _, bad := range []string{``, `{`, `{ a(b: ) }`, `query { a "unterminated }`, `{ }`, `mutation M($x: ) { a }`} {
		_, err := parseGraphQL(bad)
		require.Error(t, err, bad)
	}
	doc, err := parseGraphQL(`query A { a } query B { b }`)
	require.NoError(t, err)
	_, err = doc.pick("")
	require.Error(t, err, "several operations need a name")
}
