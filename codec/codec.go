// Package codec encrypts Temporal payloads with AES-256-GCM, so workflow inputs, results, activity arguments,
// heartbeats, queries, updates and the Web UI summaries are unreadable in Temporal's database without the key.
// The worker and the starter use it as a converter.PayloadCodec; `starter codec-server` serves it to the Web UI.
//
// Keys live in a keyring: one `id:base64key` per line, the first is the active key (it encrypts), the others only
// decrypt. Rotation is: put the new key first, keep the old ones below it until no history needs them.
package codec

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Payload metadata the codec writes.
const (
	// Encoding is the metadata "encoding" of an encrypted payload.
	Encoding = "binary/encrypted"
	// KeyIDMetadata names the key that encrypted a payload, so a rotated keyring still finds the old key.
	KeyIDMetadata = "encryption-key-id"
	// KeysEnv holds a keyring when no key file is given: entries separated by commas or newlines.
	KeysEnv = "CODEC_KEYS"
)

// Key is one AES-256 key and the id written next to what it encrypts.
type Key struct {
	ID     string
	Secret []byte // 32 bytes
}

// Codec encrypts with the active key and decrypts with any key of its keyring. Safe for concurrent use.
type Codec struct {
	active string
	ids    []string
	aeads  map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New builds a codec from keys; the first is the active key.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: the keyring is empty: give at least one id:base64key line")
	}
	c := &Codec{active: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if k.ID == "" || strings.ContainsAny(k.ID, ":, \t\n") {
			return nil, fmt.Errorf("codec: key id %q: use a non-empty id without ':', ',' or spaces", k.ID)
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, fmt.Errorf("codec: key id %q appears twice: every key needs its own id", k.ID)
		}
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("codec: key %q is %d bytes, want 32 (AES-256): generate one with `head -c32 /dev/urandom | base64`", k.ID, len(k.Secret))
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
		c.ids = append(c.ids, k.ID)
	}
	return c, nil
}

// ParseKeys reads a keyring: one `id:base64key` per line (or comma-separated), blank lines and # comments skipped.
func ParseKeys(r io.Reader) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			if entry = strings.TrimSpace(entry); entry == "" {
				continue
			}
			id, b64, ok := strings.Cut(entry, ":")
			if !ok {
				return nil, fmt.Errorf("codec: line %d: want id:base64key", n)
			}
			secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
			if err != nil {
				return nil, fmt.Errorf("codec: line %d: key %q is not standard base64: %v", n, id, err)
			}
			keys = append(keys, Key{ID: strings.TrimSpace(id), Secret: secret})
		}
	}
	return keys, sc.Err()
}

// Load reads the keyring from path, or when path is empty from the CODEC_KEYS environment variable. Neither set
// returns nil, nil: payloads stay plaintext.
func Load(path string) (*Codec, error) {
	var keys []Key
	var err error
	switch {
	case path != "":
		f, ferr := os.Open(path)
		if ferr != nil {
			return nil, fmt.Errorf("codec key file: %w", ferr)
		}
		defer f.Close()
		keys, err = ParseKeys(f)
		if err == nil && len(keys) == 0 {
			err = fmt.Errorf("codec: %s holds no keys: write one id:base64key per line", path)
		}
	case os.Getenv(KeysEnv) != "":
		keys, err = ParseKeys(strings.NewReader(os.Getenv(KeysEnv)))
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return New(keys)
}

// ActiveKeyID is the id of the key that encrypts.
func (c *Codec) ActiveKeyID() string { return c.active }

// KeyIDs lists the keyring's ids, active first.
func (c *Codec) KeyIDs() []string { return append([]string(nil), c.ids...) }

// Encode encrypts each payload, metadata and all, with the active key. The key id is bound as additional data,
// so a payload relabelled with another id fails to decrypt instead of decrypting wrongly.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), KeyIDMetadata: []byte(c.active)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads with the key their metadata names; other payloads pass through unchanged
// (histories written before encryption was switched on stay readable).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[KeyIDMetadata])
		aead, ok := c.aeads[id]
		if !ok {
			return payloads, fmt.Errorf("codec: payload was encrypted with key %q, which this keyring does not have (it has %s): add that key below the active one in the key file",
				id, strings.Join(c.ids, ", "))
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return payloads, fmt.Errorf("codec: encrypted payload of %d bytes is too short", len(data))
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return payloads, fmt.Errorf("codec: decrypt with key %q: %w (is it the same key material the writer used?)", id, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return payloads, fmt.Errorf("codec: decrypted payload is not a payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// DataConverter wraps Temporal's default converter with this codec.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// ApplyTo makes a Temporal client encrypt: payloads, and failure messages and stack traces too (they can name
// hosts and values), which the failure converter then stores as an encrypted payload.
func (c *Codec) ApplyTo(o *client.Options) {
	o.DataConverter = c.DataConverter()
	o.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: o.DataConverter, EncodeCommonAttributes: true})
}
