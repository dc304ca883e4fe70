package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/failover/failover/codec"
	"github.com/failover/failover/endpoints"
)

func (c *cli) codecServerCmd() *cobra.Command {
	var listen, tokenFile string
	var origins []string
	cmd := &cobra.Command{
		Use:   "codec-server --codec-key-file FILE",
		Short: "Serve the payload codec to the Temporal Web UI and CLI, so people can read encrypted failovers",
		Long: `Serves POST /encode and /decode (Temporal's remote codec protocol) with the keys of --codec-key-file (or
CODEC_KEYS). Point the Web UI at it (ui-server config codec.endpoint, or the UI's "Codec Server" setting in the
browser) and the CLI with temporal workflow show --codec-endpoint URL --codec-auth "Bearer TOKEN".

The browser calls the codec server itself, so --cors-origin must name the UI's origin. --auth-token-file requires
"Authorization: Bearer TOKEN": the CLI sends it with --codec-auth; the Web UI sends a bearer token only with
codec.passAccessToken (its login's OIDC access token), so for a UI without login, keep the token off and expose the
codec server only where the UI's users are (loopback, VPN), or put both behind the same authenticating proxy and
set codec.includeCredentials so the browser sends the proxy's cookie.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cd, err := codec.Load(c.endpoints.CodecKeyFile)
			if err != nil {
				return err
			}
			if cd == nil {
				return errors.New("--codec-key-file: give the keyring (id:base64key lines), or set CODEC_KEYS")
			}
			opts := codec.ServerOptions{AllowedOrigins: origins}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("--auth-token-file: %w", err)
				}
				if opts.Token = strings.TrimSpace(string(b)); opts.Token == "" {
					return fmt.Errorf("--auth-token-file %s is empty", tokenFile)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := codec.StartServer(listen, cd, opts)
			if err != nil {
				return err
			}
			defer srv.Stop()
			fmt.Fprintf(cmd.OutOrStdout(), "codec server on %s (keys %s, active %s; CORS %s; token %v)\n",
				srv.URL, strings.Join(cd.KeyIDs(), ", "), cd.ActiveKeyID(), strings.Join(origins, ", "), opts.Token != "")
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", endpoints.EnvOr("CODEC_LISTEN", "127.0.0.1:8081"), "host:port to serve on (env CODEC_LISTEN)")
	cmd.Flags().StringSliceVar(&origins, "cors-origin", strings.Split(endpoints.EnvOr("CODEC_CORS_ORIGIN", "http://127.0.0.1:8233,http://localhost:8233"), ","),
		`Web UI origins allowed to call (scheme://host:port, comma-separated; "*" for any) (env CODEC_CORS_ORIGIN)`)
	cmd.Flags().StringVar(&tokenFile, "auth-token-file", os.Getenv("CODEC_AUTH_TOKEN_FILE"), "require Authorization: Bearer <token in this file> (env CODEC_AUTH_TOKEN_FILE)")
	return cmd
}
