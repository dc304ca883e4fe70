package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

func key(id string, fill byte) Key { return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)} }

func mustNew(t *testing.T, keys ...Key) *Codec {
	t.Helper()
	c, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func plainPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEncryptsAndRoundTrips(t *testing.T) {
	c := mustNew(t, key("k1", 1))
	in := plainPayload(t, map[string]string{"service": "payments", "to": "eu-west"})
	enc, err := c.Encode([]*commonpb.Payload{in})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(enc[0].Metadata["encoding"]); got != Encoding {
		t.Fatalf("encoding %q, want %q", got, Encoding)
	}
	if got := string(enc[0].Metadata[KeyIDMetadata]); got != "k1" {
		t.Fatalf("key id %q", got)
	}
	if bytes.Contains(enc[0].Data, []byte("payments")) || bytes.Contains(enc[0].Data, []byte("json/plain")) {
		t.Fatal("ciphertext contains the plaintext or its metadata")
	}
	again, _ := c.Encode([]*commonpb.Payload{in})
	if bytes.Equal(again[0].Data, enc[0].Data) {
		t.Fatal("two encryptions of the same payload are identical: nonce reused")
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &out); err != nil || out["service"] != "payments" {
		t.Fatalf("decoded %v, %v", out, err)
	}
}

// TestRotation: a new key goes first; payloads of the old key still decrypt, new ones use the new key, and a
// keyring without the old key names it in its error.
func TestRotation(t *testing.T) {
	old := mustNew(t, key("2024-01", 1))
	oldPayloads, _ := old.Encode([]*commonpb.Payload{plainPayload(t, "before rotation")})

	rotated := mustNew(t, key("2025-06", 2), key("2024-01", 1))
	dec, err := rotated.Decode(oldPayloads)
	if err != nil {
		t.Fatalf("old payload after rotation: %v", err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &s); err != nil || s != "before rotation" {
		t.Fatalf("decoded %q, %v", s, err)
	}
	newPayloads, _ := rotated.Encode([]*commonpb.Payload{plainPayload(t, "after rotation")})
	if id := string(newPayloads[0].Metadata[KeyIDMetadata]); id != "2025-06" {
		t.Fatalf("new payloads use key %q, want the active 2025-06", id)
	}
	if _, err := old.Decode(newPayloads); err == nil || !strings.Contains(err.Error(), `"2025-06"`) {
		t.Fatalf("old keyring on a new payload: %v, want an error naming key 2025-06", err)
	}

	retired := mustNew(t, key("2025-06", 2))
	_, err = retired.Decode(oldPayloads)
	if err == nil || !strings.Contains(err.Error(), `"2024-01"`) || !strings.Contains(err.Error(), "2025-06") {
		t.Fatalf("unknown key id: %v, want an error naming the missing key and the keyring", err)
	}
}

func TestWrongKeyMaterialFails(t *testing.T) {
	enc, _ := mustNew(t, key("k1", 1)).Encode([]*commonpb.Payload{plainPayload(t, "secret")})
	if _, err := mustNew(t, key("k1", 9)).Decode(enc); err == nil || !strings.Contains(err.Error(), "decrypt") {
		t.Fatalf("same id, other key: %v", err)
	}
	// A payload relabelled with another key id fails: the id is authenticated.
	enc[0].Metadata[KeyIDMetadata] = []byte("k2")
	if _, err := mustNew(t, key("k2", 1)).Decode(enc); err == nil {
		t.Fatal("relabelled payload decrypted")
	}
}

func TestPlaintextPassesThrough(t *testing.T) {
	p := plainPayload(t, "old history")
	dec, err := mustNew(t, key("k1", 1)).Decode([]*commonpb.Payload{p})
	if err != nil || dec[0] != p {
		t.Fatalf("plaintext payload: %v", err)
	}
}

func TestParseAndLoad(t *testing.T) {
	b64 := func(fill byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32)) }
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# active first, then the retired ones\nnew:"+b64(2)+"\n\nold:"+b64(1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.ActiveKeyID() != "new" || strings.Join(c.KeyIDs(), ",") != "new,old" {
		t.Fatalf("keyring %v active %s", c.KeyIDs(), c.ActiveKeyID())
	}

	t.Setenv(KeysEnv, "a:"+b64(3)+",b:"+b64(4))
	c, err = Load("")
	if err != nil || c.ActiveKeyID() != "a" || len(c.KeyIDs()) != 2 {
		t.Fatalf("from env: %v %v", c, err)
	}
	t.Setenv(KeysEnv, "")
	if c, err := Load(""); c != nil || err != nil {
		t.Fatalf("nothing configured: %v %v, want no codec", c, err)
	}

	for _, tc := range []struct{ keys, want string }{
		{"k1", "want id:base64key"},
		{"k1:***", "not standard base64"},
		{"k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "want 32"},
		{"k1:" + b64(1) + "\nk1:" + b64(2), "appears twice"},
		{"# only a comment", "no keys"},
	} {
		f := filepath.Join(t.TempDir(), "keys")
		_ = os.WriteFile(f, []byte(tc.keys), 0o600)
		if _, err := Load(f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.keys, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing key file: no error")
	}
}

// TestApplyToEncryptsFailures: error messages and stack traces can name hosts and values, so they are encrypted too.
func TestApplyToEncryptsFailures(t *testing.T) {
	var opts client.Options
	mustNew(t, key("k1", 1)).ApplyTo(&opts)
	f := opts.FailureConverter.ErrorToFailure(errors.New("cutover of /failover/payments/active failed"))
	if strings.Contains(f.GetMessage(), "payments") || string(f.GetEncodedAttributes().GetMetadata()["encoding"]) != Encoding {
		t.Fatalf("failure stored as %q with attributes %v", f.GetMessage(), f.GetEncodedAttributes().GetMetadata())
	}
	if err := opts.FailureConverter.FailureToError(f); !strings.Contains(err.Error(), "payments") {
		t.Fatalf("decoded failure: %v", err)
	}
	if _, err := opts.DataConverter.ToPayload("x"); err != nil {
		t.Fatal(err)
	}
}
