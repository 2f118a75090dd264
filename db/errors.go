package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotFound is returned (wrapped) when a query that expects a row finds none.
var ErrNotFound = errors.New("not found")

// ErrUnreadableRow is returned (wrapped, with the column and the cause) when a row was found but a column
// does not decode into its Go type, such as a jsonb value in the wrong shape. Retrying cannot help: the
// row must be repaired or replaced.
var ErrUnreadableRow = errors.New("row cannot be read")

// ConstraintKind names the integrity rule a write broke.
type ConstraintKind string

// The constraint kinds mapped from SQLSTATE codes.
const (
	UniqueViolation     ConstraintKind = "unique"      // 23505
	ForeignKeyViolation ConstraintKind = "foreign_key" // 23503
	CheckViolation      ConstraintKind = "check"       // 23514
	NotNullViolation    ConstraintKind = "not_null"    // 23502
)

var sqlstateKinds = map[string]ConstraintKind{
	"23505": UniqueViolation,
	"23503": ForeignKeyViolation,
	"23514": CheckViolation,
	"23502": NotNullViolation,
}

// ConstraintError is a write rejected by an integrity constraint. Constraint is the name from the schema
// (for example gw_installations_provider_external_id_key), so callers can tell which rule it was.
type ConstraintError struct {
	Kind       ConstraintKind
	Constraint string
	Table      string
	err        error
}

func (e *ConstraintError) Error() string {
	// The driver's message can quote row values; the constraint name is enough to act on.
	return fmt.Sprintf("%s violation on %s (%s)", e.Kind, e.Constraint, e.Table)
}

func (e *ConstraintError) Unwrap() error { return e.err }

// Interpret maps driver errors to the package's named errors: no rows → ErrNotFound, integrity
// violations → *ConstraintError, a column that does not decode → ErrUnreadableRow. Anything else is
// returned unchanged.
func Interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w", ErrNotFound)
	}
	if errors.Is(err, ErrUnreadableRow) {
		return err
	}
	var scanErr pgx.ScanArgError
	if errors.As(err, &scanErr) {
		return fmt.Errorf("%w: %w", ErrUnreadableRow, scanErr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if kind, ok := sqlstateKinds[pgErr.Code]; ok {
			return &ConstraintError{Kind: kind, Constraint: pgErr.ConstraintName, Table: pgErr.TableName, err: err}
		}
	}
	return err
}

// IsConstraint reports whether err is a violation of the given kind, and when constraint is not empty, of
// that named constraint.
func IsConstraint(err error, kind ConstraintKind, constraint string) bool {
	var ce *ConstraintError
	if !errors.As(Interpret(err), &ce) {
		return false
	}
	return ce.Kind == kind && (constraint == "" || ce.Constraint == constraint)
}

// IsNotFound reports whether err means "no such row".
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, pgx.ErrNoRows)
}

// IsUnreadableRow reports whether err means a row was found but could not be decoded.
func IsUnreadableRow(err error) bool {
	return errors.Is(Interpret(err), ErrUnreadableRow)
}
