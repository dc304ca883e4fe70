package etcdserver

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Role is an etcd role and its key permissions, as `etcdctl role add` and `role grant-permission` set them.
type Role struct {
	Name  string
	Perms []Perm
}

// Perm grants Type on Key, or on every key under it with Prefix.
type Perm struct {
	Key    string
	Prefix bool
	Type   clientv3.PermissionType
}

// User is an etcd user. An empty Password makes a user that can only log in with a client certificate whose common
// name is Name (`etcdctl user add NAME --no-password`).
type User struct {
	Name, Password string
	Roles          []string
}

// OrchestratorRole is the least the failover worker needs on one service's keys (README, "etcd RBAC"): read and
// write its active key, read and watch its acks.
func OrchestratorRole(name, activeKey, ackPrefix string) Role {
	return Role{Name: name, Perms: []Perm{
		{Key: activeKey, Type: clientv3.PermissionType(clientv3.PermReadWrite)},
		{Key: ackPrefix, Prefix: true, Type: clientv3.PermissionType(clientv3.PermRead)},
	}}
}

// ServiceRole is the least a service running package follow needs: read and watch its active key, write its acks.
func ServiceRole(name, activeKey, ackPrefix string) Role {
	return Role{Name: name, Perms: []Perm{
		{Key: activeKey, Type: clientv3.PermissionType(clientv3.PermRead)},
		{Key: ackPrefix, Prefix: true, Type: clientv3.PermissionType(clientv3.PermReadWrite)},
	}}
}

// EnableAuth creates the root user (with rootPassword), the roles and the users, then turns authentication on,
// as an operator does with etcdctl. Call it once, before auth is on.
func (s *Server) EnableAuth(ctx context.Context, rootPassword string, roles []Role, users []User) error {
	cl, err := s.NewClient()
	if err != nil {
		return fmt.Errorf("etcd auth: %w", err)
	}
	defer cl.Close()
	if _, err := cl.UserAdd(ctx, "root", rootPassword); err != nil {
		return fmt.Errorf("etcd auth: add root: %w", err)
	}
	if _, err := cl.UserGrantRole(ctx, "root", "root"); err != nil {
		return fmt.Errorf("etcd auth: grant root: %w", err)
	}
	for _, r := range roles {
		if _, err := cl.RoleAdd(ctx, r.Name); err != nil {
			return fmt.Errorf("etcd auth: add role %s: %w", r.Name, err)
		}
		for _, p := range r.Perms {
			end := ""
			if p.Prefix {
				end = clientv3.GetPrefixRangeEnd(p.Key)
			}
			if _, err := cl.RoleGrantPermission(ctx, r.Name, p.Key, end, p.Type); err != nil {
				return fmt.Errorf("etcd auth: grant %s on %s: %w", r.Name, p.Key, err)
			}
		}
	}
	for _, u := range users {
		if _, err := cl.UserAddWithOptions(ctx, u.Name, u.Password, &clientv3.UserAddOptions{NoPassword: u.Password == ""}); err != nil {
			return fmt.Errorf("etcd auth: add user %s: %w", u.Name, err)
		}
		for _, r := range u.Roles {
			if _, err := cl.UserGrantRole(ctx, u.Name, r); err != nil {
				return fmt.Errorf("etcd auth: grant %s to %s: %w", r, u.Name, err)
			}
		}
	}
	if _, err := cl.AuthEnable(ctx); err != nil {
		return fmt.Errorf("etcd auth: enable: %w", err)
	}
	return nil
}
