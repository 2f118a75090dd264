package db

// SetsPoolMaxConns exposes setsPoolMaxConns to the package's external tests.
var SetsPoolMaxConns = setsPoolMaxConns
