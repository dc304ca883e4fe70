package endpoints

// config is a Config whose other systems point at nothing, as Bind's defaults would, for tests that set one system.
func config() Config {
	return Config{TemporalAddress: "127.0.0.1:1", TemporalNamespace: "default", EtcdEndpoints: []string{"http://127.0.0.1:1"},
		KongAdminURL: "http://127.0.0.1:1"}
}
