// Package listcap bounds the lists a caller sends (ids to link, deliveries to replay, events, entity
// types) before any work grows with them. The length is checked first, in constant time; duplicates are
// then removed in one pass through a set, never by searching the list for each item. Both services use
// it, so every list input is capped and de-duplicated the same way.
package listcap

import "fmt"

// TooManyError is a list longer than its cap.
type TooManyError struct {
	Got, Max int
}

func (e *TooManyError) Error() string {
	return fmt.Sprintf("%d items, at most %d allowed", e.Got, e.Max)
}

// Check returns a *TooManyError when n is over max.
func Check(n, max int) error {
	if n > max {
		return &TooManyError{Got: n, Max: max}
	}
	return nil
}

// Unique returns items without repeats, each kept where it first appears. A list longer than max is
// refused (*TooManyError) before anything else is done with it.
func Unique[T comparable](items []T, max int) ([]T, error) {
	if err := Check(len(items), max); err != nil {
		return nil, err
	}
	seen := make(map[T]struct{}, len(items))
	out := make([]T, 0, len(items))
	for _, it := range items {
		if _, dup := seen[it]; dup {
			continue
		}
		seen[it] = struct{}{}
		out = append(out, it)
	}
	return out, nil
}
