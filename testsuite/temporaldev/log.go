package temporaldev

import (
	"context"
	"fmt"
	"log/slog"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// minLevel is the quietest server log that reaches Options.Logger: below warn the server narrates
// every shard, queue and namespace refresh.
const minLevel = slog.LevelWarn

// silent is above every level: once Stop begins, the server's warnings and errors about
// cancelled polls and closed connections are expected and only noise.
const silent = slog.Level(100)

// serverLogger adapts an slog.Logger (Options.Logger behind atLeast) to the server's log.Logger.
type serverLogger struct {
	l *slog.Logger
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// DPanic only panics in the server's development builds; here it is an error.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// Panic logs, then panics as the server expects.
func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalError{msg: msg, tags: tags})
}

// Fatal logs, then panics instead of exiting the process. The server calls it when it cannot
// continue (typically a listener that cannot bind) and would otherwise carry on with a nil
// listener. Start and Stop recover the panic and return it as an error; in one of the server's
// own goroutines it crashes the process, as the server's exit would.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalError{msg: msg, tags: tags})
}

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, len(tags))
	for i, t := range tags {
		args[i] = attr(t)
	}
	return serverLogger{l: s.l.With(args...)}
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = attr(t)
	}
	s.l.LogAttrs(ctx, level, msg, attrs...)
}

func attr(t tag.Tag) slog.Attr { return slog.Any(t.Key(), t.Value()) }

// fatalError is what the server reported through Fatal or Panic.
type fatalError struct {
	msg  string
	tags []tag.Tag
}

func (f fatalError) Error() string {
	s := f.msg
	for _, t := range f.tags {
		s += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
	}
	return s
}

// sdkLogger is for the SDK client this package uses itself, at the same threshold.
func sdkLogger(l *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(atLeast{Handler: l.Handler(), min: minLevel}))
}

// atLeast drops records below min.
type atLeast struct {
	slog.Handler
	min slog.Leveler
}

func (a atLeast) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= a.min.Level() && a.Handler.Enabled(ctx, level)
}

func (a atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{Handler: a.Handler.WithAttrs(attrs), min: a.min}
}

func (a atLeast) WithGroup(name string) slog.Handler {
	return atLeast{Handler: a.Handler.WithGroup(name), min: a.min}
}
