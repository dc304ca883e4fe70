package endpoints

import (
	"github.com/failover/failover/clienttls"
	"github.com/failover/failover/follow"
)

// loadEtcd validates the etcd settings, reads the password and the TLS files, and keeps them for Etcd and Check.
func (c *Config) loadEtcd() error {
	password, err := readSecret("--etcd-password-file", c.EtcdPasswordFile, "ETCD_PASSWORD")
	if err != nil {
		return err
	}
	passwordSetting := "--etcd-password-file (or ETCD_PASSWORD)"
	if c.EtcdPasswordFile != "" {
		passwordSetting = "--etcd-password-file " + c.EtcdPasswordFile
	}
	c.etcd = follow.Etcd{
		Endpoints: c.EtcdEndpoints,
		TLS: clienttls.Files{
			CA:   clienttls.File{Path: c.EtcdCACert, Setting: "--etcd-ca-cert"},
			Cert: clienttls.File{Path: c.EtcdCert, Setting: "--etcd-cert"},
			Key:  clienttls.File{Path: c.EtcdKey, Setting: "--etcd-key"},
		},
		Username:         c.EtcdUser,
		Password:         password,
		PasswordSetting:  passwordSetting,
		EndpointsSetting: "--etcd-endpoints",
		UsernameSetting:  "--etcd-user",
	}
	if password != "" && c.EtcdUser == "" {
		c.etcd.Password = "" // a password alone logs nobody in; keep the certificate (or no auth)
	}
	_, err = c.etcd.ClientConfig() // validates the endpoints and reads the TLS files now
	return err
}
