package platform

import (
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// SlogFromZap adapts the zap logger for libraries that log through log/slog (River).
func SlogFromZap(log *zap.Logger) *slog.Logger {
	return slog.New(zapslog.NewHandler(log.Core()))
}
