package service

import (
	"context"

	"github.com/metapipe/metapipe/pipeline"
)

// The clients' administration, for the API (/v1/clients): pipeline.Runner's, with the
// process's token keys (METAPIPE_TOKEN_KEY). Tokens are stored encrypted and never returned.

// ListClients lists every client (pipeline.Runner.ListClients).
func (s *Service) ListClients(ctx context.Context) ([]pipeline.ClientInfo, error) {
	return s.runner.ListClients(ctx)
}

// AddClient adds a client (pipeline.Runner.AddClient).
func (s *Service) AddClient(ctx context.Context, name, adAccount, token string) (pipeline.ClientInfo, error) {
	return s.runner.AddClient(ctx, name, adAccount, token)
}

// SetClientToken sets or removes a client's own token (pipeline.Runner.SetClientToken).
func (s *Service) SetClientToken(ctx context.Context, ref, token string) (pipeline.ClientInfo, error) {
	return s.runner.SetClientToken(ctx, ref, token)
}

// DeactivateClient deactivates a client (pipeline.Runner.DeactivateClient).
func (s *Service) DeactivateClient(ctx context.Context, ref string) (pipeline.ClientInfo, error) {
	return s.runner.DeactivateClient(ctx, ref)
}
