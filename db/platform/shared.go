package platform

import (
	"time"

	"github.com/redis/rueidis"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/secrets"
)

// Shared is the configuration both services read (SPEC §8).
type Shared struct {
	AppEnv         string           `json:"APP_ENV"`
	DatabaseURL    secrets.Secret   `json:"DATABASE_URL"`
	DatabasePooler db.Pooler        `json:"DATABASE_POOLER"`
	RedisURL       secrets.Secret   `json:"REDIS_URL"`
	EncryptionKeys secrets.Secret   `json:"ENCRYPTION_KEYS"`
	LogLevel       string           `json:"LOG_LEVEL"`
	LogFormat      string           `json:"LOG_FORMAT"`
	ShutdownGrace  time.Duration    `json:"SHUTDOWN_TIMEOUT"`
	Keyring        *secrets.Keyring `json:"-"`
}

// Production reports whether APP_ENV is production (dev-only shortcuts are refused there).
func (s Shared) Production() bool { return s.AppEnv == "production" }

// LoadShared reads the shared variables.
func LoadShared(e *Env) Shared {
	s := Shared{
		AppEnv:        e.OneOf("APP_ENV", "development", "development", "test", "production"),
		DatabaseURL:   e.Secret("DATABASE_URL"),
		RedisURL:      e.Secret("REDIS_URL"),
		LogLevel:      e.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:     e.OneOf("LOG_FORMAT", "json", "json", "console"),
		ShutdownGrace: e.Duration("SHUTDOWN_TIMEOUT", 10*time.Second),
	}
	pooler, err := db.ParsePooler(e.String("DATABASE_POOLER", "none"))
	e.Check("DATABASE_POOLER", err)
	s.DatabasePooler = pooler
	s.EncryptionKeys = e.Secret("ENCRYPTION_KEYS")
	if s.EncryptionKeys != "" {
		kr, err := secrets.ParseKeyring(s.EncryptionKeys.Reveal())
		e.Check("ENCRYPTION_KEYS", err)
		s.Keyring = kr
	}
	if s.RedisURL != "" {
		_, err := rueidis.ParseURL(s.RedisURL.Reveal())
		e.Check("REDIS_URL", err)
	}
	return s
}
