package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// The environment of notifications (README, "Notifications").
const (
	envWebhookURL      = "METAPIPE_WEBHOOK_URL"       // generic JSON webhooks, comma-separated
	envSlackWebhookURL = "METAPIPE_SLACK_WEBHOOK_URL" // Slack incoming webhooks, comma-separated
	envWebhookSecret   = "METAPIPE_WEBHOOK_SECRET"    // the HMAC-SHA256 key of the signatures
	envNotifyFailures  = "METAPIPE_NOTIFY_FAILURES"   // a client failing its N-th run in a row (3)
	envNotifyThrottle  = "METAPIPE_NOTIFY_THROTTLE"   // Meta holding an account longer than this (15m)
)

// notifyConfig reads the notifications' environment. A wrong value is a usage error naming
// the variable, never its value (a webhook's URL is a secret).
func notifyConfig() (service.NotifyConfig, error) {
	var c service.NotifyConfig
	for env, format := range map[string]string{envWebhookURL: service.FormatJSON, envSlackWebhookURL: service.FormatSlack} {
		for _, u := range strings.Split(os.Getenv(env), ",") {
			if u = strings.TrimSpace(u); u == "" {
				continue
			}
			w := service.Webhook{URL: u, Format: format}
			if err := w.Check(); err != nil {
				return c, fmt.Errorf("%w: %s: %w", pipeline.ErrUsage, env, err)
			}
			c.Webhooks = append(c.Webhooks, w)
		}
	}
	c.Secret = os.Getenv(envWebhookSecret)
	if c.Secret != "" && utf8.RuneCountInString(c.Secret) < minAPITokenLen {
		return c, fmt.Errorf("%w: %s is too weak: use at least %d characters (e.g. openssl rand -hex 32)", pipeline.ErrUsage, envWebhookSecret, minAPITokenLen)
	}
	for _, w := range c.Webhooks {
		if w.Format == service.FormatJSON && c.Secret == "" {
			return c, fmt.Errorf("%w: %s needs %s: every body is signed with it", pipeline.ErrUsage, envWebhookURL, envWebhookSecret)
		}
	}
	if v := os.Getenv(envNotifyFailures); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return c, fmt.Errorf("%w: %s %q: want 1..1000", pipeline.ErrUsage, envNotifyFailures, v)
		}
		c.FailuresInARow = n
	}
	if v := os.Getenv(envNotifyThrottle); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%w: %s %q: want a duration such as 15m", pipeline.ErrUsage, envNotifyThrottle, v)
		}
		c.ThrottleBound = d
	}
	return c, nil
}

func newNotifyCommand() *cli.Command {
	return &cli.Command{Name: "notify", Usage: "notifications: `notify test` posts a sample event to the webhooks (" + envWebhookURL + ", " + envSlackWebhookURL + ")",
		Commands: []*cli.Command{{Name: "test", Usage: "post a sample event to every configured webhook, signed and retried as the workers do; exit 1 if one did not take it",
			Action: runNotifyTest}},
		Action: func(context.Context, *cli.Command) error {
			return fmt.Errorf("%w: notify needs a subcommand: test (metapipe notify --help)", pipeline.ErrUsage)
		}}
}

func runNotifyTest(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Present() {
		return fmt.Errorf("%w: notify test takes no arguments", pipeline.ErrUsage)
	}
	cfg, err := notifyConfig()
	if err != nil {
		return err
	}
	if len(cfg.Webhooks) == 0 {
		return fmt.Errorf("%w: no webhook: set %s (with %s) or %s", pipeline.ErrUsage, envWebhookURL, envWebhookSecret, envSlackWebhookURL)
	}
	res, err := service.NotifyTest(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	var failed []error
	for _, r := range res {
		switch {
		case jsonMode(cmd):
			attrs := []any{"webhook", r.Webhook, "status", r.Status, "delivered", r.Err == nil}
			if r.Err != nil {
				attrs = append(attrs, "error", r.Err.Error())
			}
			event(cmd, "notify_test", r.Err != nil, attrs...)
		case r.Err == nil:
			fmt.Fprintf(cmd.Root().Writer, "webhook %s: delivered (HTTP %d)\n", r.Webhook, r.Status)
		default:
			fmt.Fprintf(cmd.Root().Writer, "webhook %s: not delivered: %v\n", r.Webhook, r.Err)
		}
		if r.Err != nil {
			failed = append(failed, fmt.Errorf("webhook %s: %w", r.Webhook, r.Err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("notify test: %w", errors.Join(failed...))
	}
	return nil
}
