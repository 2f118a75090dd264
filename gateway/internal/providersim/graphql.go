package providersim

// A small GraphQL executor for the Linear simulator. Matching on substrings
// of the query text breaks as soon as a client nests `issues` under `team` or
// aliases a field, so the simulator parses the document properly (operations,
// fragments, aliases, arguments, variables) and answers only the fields that
// were selected, like a real GraphQL server. It has no schema: unknown
// fields on known objects resolve to null, which keeps it lenient.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// gqlError is one entry of a GraphQL `errors` array.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func (e gqlError) Error() string { return e.Message }

// syntaxErr builds a parse error worded like graphql-js ("Syntax Error: ...").
func syntaxErr(format string, args ...any) error {
	return gqlError{Message: "Syntax Error: " + fmt.Sprintf(format, args...)}
}

// gqlResolver computes a field from its arguments (already resolved against
// the request variables). Objects hold resolvers for fields with arguments or
// that are expensive or cyclic (team.issues, organization.teams).
type gqlResolver func(args map[string]any) (any, error)

type gqlField struct {
	alias string
	name  string
	args  map[string]any // values may contain gqlVar
	sel   []gqlSelection
}

type gqlSelection struct {
	field  *gqlField
	spread string         // fragment name
	inline []gqlSelection // inline fragment body
}

type gqlOperation struct {
	kind string // query or mutation
	name string
	defs map[string]any // variable defaults
	sel  []gqlSelection
}

type gqlDocument struct {
	ops   []*gqlOperation
	frags map[string][]gqlSelection
}

type gqlVar string

// --- lexer ---

type gqlToken struct {
	kind byte // 'p' punctuator, 'n' name, 's' string, 'i' int, 'f' float, 0 EOF
	val  string
	pos  int
}

type gqlLexer struct {
	src string
	pos int
}

func (l *gqlLexer) next() (gqlToken, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "\uFEFF"):
			l.pos += len("\uFEFF")
		default:
			return l.token()
		}
	}
	return gqlToken{pos: l.pos}, nil
}

func (l *gqlLexer) token() (gqlToken, error) {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case strings.HasPrefix(l.src[l.pos:], "..."):
		l.pos += 3
		return gqlToken{kind: 'p', val: "...", pos: start}, nil
	case strings.ContainsRune("!$&()/:=@[]{}|", rune(c)):
		l.pos++
		return gqlToken{kind: 'p', val: string(c), pos: start}, nil
	case c == '_' || isLetter(c):
		for l.pos < len(l.src) && (l.src[l.pos] == '_' || isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return gqlToken{kind: 'n', val: l.src[start:l.pos], pos: start}, nil
	case c == '-' || isDigit(c):
		l.pos++
		kind := byte('i')
		for l.pos < len(l.src) {
			d := l.src[l.pos]
			if isDigit(d) {
				l.pos++
				continue
			}
			if d == '.' || d == 'e' || d == 'E' || ((d == '+' || d == '-') && (l.src[l.pos-1] == 'e' || l.src[l.pos-1] == 'E')) {
				kind = 'f'
				l.pos++
				continue
			}
			break
		}
		return gqlToken{kind: kind, val: l.src[start:l.pos], pos: start}, nil
	case strings.HasPrefix(l.src[l.pos:], `"""`):
		end := strings.Index(l.src[l.pos+3:], `"""`)
		if end < 0 {
			return gqlToken{}, syntaxErr("Unterminated string at %d", start)
		}
		val := l.src[l.pos+3 : l.pos+3+end]
		l.pos += 3 + end + 3
		return gqlToken{kind: 's', val: strings.TrimSpace(val), pos: start}, nil
	case c == '"':
		l.pos++
		var b strings.Builder
		for l.pos < len(l.src) {
			d := l.src[l.pos]
			switch {
			case d == '"':
				l.pos++
				return gqlToken{kind: 's', val: b.String(), pos: start}, nil
			case d == '\\' && l.pos+1 < len(l.src):
				e := l.src[l.pos+1]
				l.pos += 2
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case 'b':
					b.WriteByte('\b')
				case 'f':
					b.WriteByte('\f')
				case 'u':
					if l.pos+4 <= len(l.src) {
						if r, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32); err == nil {
							b.WriteRune(rune(r))
							l.pos += 4
						}
					}
				default:
					b.WriteByte(e)
				}
			case d == '\n':
				return gqlToken{}, syntaxErr("Unterminated string at %d", start)
			default:
				b.WriteByte(d)
				l.pos++
			}
		}
		return gqlToken{}, syntaxErr("Unterminated string at %d", start)
	}
	return gqlToken{}, syntaxErr("Unexpected character %q at %d", c, start)
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// --- parser ---

type gqlParser struct {
	lex gqlLexer
	tok gqlToken
}

func parseGraphQL(src string) (*gqlDocument, error) {
	p := &gqlParser{lex: gqlLexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	doc := &gqlDocument{frags: map[string][]gqlSelection{}}
	for p.tok.kind != 0 {
		switch {
		case p.is('p', "{"):
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, &gqlOperation{kind: "query", sel: sel})
		case p.is('n', "query"), p.is('n', "mutation"), p.is('n', "subscription"):
			op, err := p.operation()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, op)
		case p.is('n', "fragment"):
			if err := p.fragment(doc); err != nil {
				return nil, err
			}
		default:
			return nil, p.unexpected()
		}
	}
	if len(doc.ops) == 0 {
		return nil, syntaxErr("document has no operation")
	}
	return doc, nil
}

func (p *gqlParser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *gqlParser) is(kind byte, val string) bool { return p.tok.kind == kind && p.tok.val == val }

func (p *gqlParser) unexpected() error {
	if p.tok.kind == 0 {
		return syntaxErr("Unexpected <EOF>")
	}
	return syntaxErr("Unexpected %q at %d", p.tok.val, p.tok.pos)
}

func (p *gqlParser) expect(val string) error {
	if !p.is('p', val) {
		return p.unexpected()
	}
	return p.advance()
}

func (p *gqlParser) name() (string, error) {
	if p.tok.kind != 'n' {
		return "", p.unexpected()
	}
	n := p.tok.val
	return n, p.advance()
}

func (p *gqlParser) operation() (*gqlOperation, error) {
	op := &gqlOperation{kind: p.tok.val, defs: map[string]any{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == 'n' {
		op.name = p.tok.val
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is('p', "(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for !p.is('p', ")") {
			if err := p.expect("$"); err != nil {
				return nil, err
			}
			name, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if err := p.skipType(); err != nil {
				return nil, err
			}
			if p.is('p', "=") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				op.defs[name] = v
			}
			if err := p.skipDirectives(); err != nil {
				return nil, err
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if err := p.skipDirectives(); err != nil {
		return nil, err
	}
	sel, err := p.selectionSet()
	if err != nil {
		return nil, err
	}
	op.sel = sel
	return op, nil
}

func (p *gqlParser) skipType() error {
	if p.is('p', "[") {
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.skipType(); err != nil {
			return err
		}
		if err := p.expect("]"); err != nil {
			return err
		}
	} else if _, err := p.name(); err != nil {
		return err
	}
	if p.is('p', "!") {
		return p.advance()
	}
	return nil
}

// skipDirectives ignores @include/@skip and friends: the simulator always
// answers every selected field.
func (p *gqlParser) skipDirectives() error {
	for p.is('p', "@") {
		if err := p.advance(); err != nil {
			return err
		}
		if _, err := p.name(); err != nil {
			return err
		}
		if p.is('p', "(") {
			if _, err := p.arguments(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *gqlParser) fragment(doc *gqlDocument) error {
	if err := p.advance(); err != nil {
		return err
	}
	name, err := p.name()
	if err != nil {
		return err
	}
	if !p.is('n', "on") {
		return p.unexpected()
	}
	if err := p.advance(); err != nil {
		return err
	}
	if _, err := p.name(); err != nil {
		return err
	}
	if err := p.skipDirectives(); err != nil {
		return err
	}
	sel, err := p.selectionSet()
	if err != nil {
		return err
	}
	doc.frags[name] = sel
	return nil
}

func (p *gqlParser) selectionSet() ([]gqlSelection, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var out []gqlSelection
	for !p.is('p', "}") {
		if p.tok.kind == 0 {
			return nil, p.unexpected()
		}
		if p.is('p', "...") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind == 'n' && p.tok.val != "on" {
				name := p.tok.val
				if err := p.advance(); err != nil {
					return nil, err
				}
				if err := p.skipDirectives(); err != nil {
					return nil, err
				}
				out = append(out, gqlSelection{spread: name})
				continue
			}
			if p.is('n', "on") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				if _, err := p.name(); err != nil {
					return nil, err
				}
			}
			if err := p.skipDirectives(); err != nil {
				return nil, err
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			out = append(out, gqlSelection{inline: sel})
			continue
		}
		f, err := p.field()
		if err != nil {
			return nil, err
		}
		out = append(out, gqlSelection{field: f})
	}
	if len(out) == 0 {
		return nil, syntaxErr("empty selection set at %d", p.tok.pos)
	}
	return out, p.advance()
}

func (p *gqlParser) field() (*gqlField, error) {
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	f := &gqlField{name: name}
	if p.is('p', ":") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		f.alias = name
		if f.name, err = p.name(); err != nil {
			return nil, err
		}
	}
	if p.is('p', "(") {
		if f.args, err = p.arguments(); err != nil {
			return nil, err
		}
	}
	if err := p.skipDirectives(); err != nil {
		return nil, err
	}
	if p.is('p', "{") {
		if f.sel, err = p.selectionSet(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *gqlParser) arguments() (map[string]any, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	args := map[string]any{}
	for !p.is('p', ")") {
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		args[name] = v
	}
	return args, p.advance()
}

func (p *gqlParser) value() (any, error) {
	t := p.tok
	switch {
	case t.kind == 'p' && t.val == "$":
		if err := p.advance(); err != nil {
			return nil, err
		}
		name, err := p.name()
		return gqlVar(name), err
	case t.kind == 'i':
		n, err := strconv.ParseInt(t.val, 10, 64)
		if err != nil {
			return nil, syntaxErr("bad int %q", t.val)
		}
		return float64(n), p.advance()
	case t.kind == 'f':
		n, err := strconv.ParseFloat(t.val, 64)
		if err != nil {
			return nil, syntaxErr("bad float %q", t.val)
		}
		return n, p.advance()
	case t.kind == 's':
		return t.val, p.advance()
	case t.kind == 'n':
		var v any = t.val // enum values are passed on as strings
		switch t.val {
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		}
		return v, p.advance()
	case t.kind == 'p' && t.val == "[":
		if err := p.advance(); err != nil {
			return nil, err
		}
		list := []any{}
		for !p.is('p', "]") {
			if p.tok.kind == 0 {
				return nil, p.unexpected()
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, p.advance()
	case t.kind == 'p' && t.val == "{":
		if err := p.advance(); err != nil {
			return nil, err
		}
		obj := map[string]any{}
		for !p.is('p', "}") {
			name, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			obj[name] = v
		}
		return obj, p.advance()
	}
	return nil, p.unexpected()
}

// --- execution ---

// pick chooses the operation to run: the named one, or the only one.
func (d *gqlDocument) pick(name string) (*gqlOperation, error) {
	if name == "" {
		if len(d.ops) > 1 {
			return nil, gqlError{Message: "Must provide operation name if query contains multiple operations."}
		}
		return d.ops[0], nil
	}
	for _, op := range d.ops {
		if op.name == name {
			return op, nil
		}
	}
	return nil, gqlError{Message: fmt.Sprintf("Unknown operation named %q.", name)}
}

// fields flattens fragment spreads and inline fragments into the fields
// they select.
func (d *gqlDocument) fields(sel []gqlSelection) []*gqlField {
	var out []*gqlField
	for _, s := range sel {
		switch {
		case s.field != nil:
			out = append(out, s.field)
		case s.inline != nil:
			out = append(out, d.fields(s.inline)...)
		case s.spread != "":
			out = append(out, d.fields(d.frags[s.spread])...)
		}
	}
	return out
}

// resolveValue substitutes variables into a parsed argument value.
func resolveValue(v any, vars map[string]any) any {
	switch t := v.(type) {
	case gqlVar:
		return vars[string(t)]
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = resolveValue(e, vars)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = resolveValue(e, vars)
		}
		return out
	}
	return v
}

type gqlExec struct {
	doc  *gqlDocument
	vars map[string]any
}

// project answers the selection set fields on value v: objects keep only
// the selected keys (under their aliases), lists are projected element-wise,
// resolvers are called with the field's arguments.
func (e *gqlExec) project(v any, sel []gqlSelection, path []any) (any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []map[string]any:
		out := make([]any, len(t))
		for i, el := range t {
			pv, err := e.project(el, sel, append(path, i))
			if err != nil {
				return nil, err
			}
			out[i] = pv
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, el := range t {
			pv, err := e.project(el, sel, append(path, i))
			if err != nil {
				return nil, err
			}
			out[i] = pv
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any)
		for _, f := range e.doc.fields(sel) {
			key := f.name
			if f.alias != "" {
				key = f.alias
			}
			val, err := e.fieldValue(t, f, append(path, key))
			if err != nil {
				return nil, err
			}
			out[key] = val
		}
		return out, nil
	}
	return v, nil
}

func (e *gqlExec) fieldValue(obj map[string]any, f *gqlField, path []any) (any, error) {
	val := obj[f.name]
	if fn, ok := val.(gqlResolver); ok {
		args, _ := resolveValue(f.args, e.vars).(map[string]any)
		if args == nil {
			args = map[string]any{}
		}
		var err error
		if val, err = fn(args); err != nil {
			var ge gqlError
			if !errors.As(err, &ge) {
				ge = gqlError{Message: err.Error()}
			}
			ge.Path = slices.Clone(path)
			return nil, ge
		}
	}
	if f.sel == nil {
		return val, nil
	}
	return e.project(val, f.sel, path)
}
