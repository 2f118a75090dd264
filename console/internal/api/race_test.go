//go:build race

package api_test

// raceEnabled says the race detector instruments this build (timing budgets are wider).
const raceEnabled = true
