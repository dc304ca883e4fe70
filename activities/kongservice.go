package activities

import (
	"context"
	"fmt"

	"github.com/kong/go-kong/kong"
	"go.temporal.io/sdk/temporal"
)

// SwitchServiceInput repoints a Kong Service from one host (an upstream name or hostname) to another.
type SwitchServiceInput struct {
	Service, From, To string
}

// SwitchServiceResult says whether the Service was changed by this call (false: it already pointed at To).
type SwitchServiceResult struct {
	Changed bool
}

// ReadServiceHost is the host a Kong Service points at.
func (a *Activities) ReadServiceHost(ctx context.Context, service string) (string, error) {
	svc, err := a.Kong.Services.Get(ctx, &service)
	if err != nil {
		return "", kongError("read Kong service "+service, err)
	}
	return kong.StringValue(svc.Host), nil
}

// SwitchService points the Service at To in one change (PATCH /services/{s} {host}), the blue-green switch
// Kong documents. It is fenced on From: a Service that points at neither From nor To was changed by someone
// else and is left alone (ErrKongConfigChanged). A retry after a change whose answer was lost finds To and
// writes nothing.
func (a *Activities) SwitchService(ctx context.Context, in SwitchServiceInput) (SwitchServiceResult, error) {
	svc, err := a.Kong.Services.Get(ctx, &in.Service)
	if err != nil {
		return SwitchServiceResult{}, kongError("read Kong service "+in.Service, err)
	}
	switch host := kong.StringValue(svc.Host); host {
	case in.To:
		return SwitchServiceResult{}, nil
	case in.From:
	default:
		return SwitchServiceResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"Kong service %s points at %s, not %s: someone else changed it; not overwriting their change", in.Service, host, in.From),
			ErrKongConfigChanged, nil)
	}
	if _, err := a.Kong.Services.Update(ctx, &kong.Service{ID: svc.ID, Host: kong.String(in.To)}); err != nil {
		return SwitchServiceResult{}, kongError(fmt.Sprintf("point Kong service %s at %s", in.Service, in.To), err)
	}
	a.logger().Info("kong service switched", "service", in.Service, "host", in.To, "was", in.From)
	return SwitchServiceResult{Changed: true}, nil
}

// servicePreflight is KongPreflight for a plan that switches a Service: the node must take entity writes and the
// Service must point at the source region's host.
func (a *Activities) servicePreflight(ctx context.Context, res KongPreflightResult, in KongPreflightInput) (KongPreflightResult, error) {
	svc, err := a.Kong.Services.Get(ctx, &in.Service)
	if kong.IsNotFoundErr(err) {
		res.Problems = append(res.Problems, fmt.Sprintf("Kong has no service %s: create it or fix the plan's kong.service", in.Service))
		return res, nil
	}
	if err != nil {
		return res, kongError("read Kong service "+in.Service, err)
	}
	res.ServiceHost = kong.StringValue(svc.Host)
	for _, t := range svc.Tags {
		if v := kong.StringValue(t); v == KongIngressControllerTag {
			res.Problems = append(res.Problems, fmt.Sprintf("Kong is managed by the Kong Ingress Controller (service %s carries tag %s): "+
				"its next sync would undo the switch; change the HTTPRoute backendRefs in Kubernetes instead", in.Service, v))
		}
	}
	switch {
	case res.Role == "data_plane":
		res.Problems = append(res.Problems, "Kong at the Admin API is a hybrid-mode data plane (role data_plane): it takes no configuration "+
			"from its Admin API; point --kong-admin-url at the control plane's Admin API")
	case res.Database == "off":
		res.Problems = append(res.Problems, "a service switch on a DB-less Kong is not supported: use kong.switch weights")
	default:
		res.Mode = KongEntities
	}
	if res.ServiceHost != in.FromHost && res.ServiceHost != in.ToHost {
		res.Problems = append(res.Problems, fmt.Sprintf("Kong service %s points at %s, neither regions' kongHost (%s, %s): fix the plan or the service",
			in.Service, res.ServiceHost, in.FromHost, in.ToHost))
	}
	if len(res.Problems) > 0 {
		res.Mode = ""
	}
	return res, nil
}
